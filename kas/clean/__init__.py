"""The clean commands' library: ``clean``, ``cleansstate``, ``cleanall`` and
``purge`` (CLI-170 ... CLI-181).

* :mod:`kas.clean.cleaner`: their options, the build system to clean for
  and the :class:`~kas.clean.cleaner.Cleaner` that removes, logging each
  removal;
* :mod:`kas.clean.purge`: what ``purge`` removes beyond ``cleanall``;
* :mod:`kas.clean.removal`: removing trees safely, as the caller, with sudo
  or from a user namespace.
"""
