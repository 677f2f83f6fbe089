"""Stand-in for bitbake's PR service package (not shipped by
bitbake-setup); used only when PRSERV_HOST is set."""
