"""The build environment: init-script sourcing, the environment of bitbake,
and the conf files kas writes into the build directory."""
