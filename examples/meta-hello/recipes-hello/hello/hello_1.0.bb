SUMMARY = "Writes a greeting built from the configuration kas wrote"

HELLO_GREETING ??= "Hello"
HELLO_FILE = "${DEPLOY_DIR}/hello-${MACHINE}.txt"

do_build() {
    mkdir -p "${DEPLOY_DIR}"
    echo "${HELLO_GREETING}: ${PN} ${PV} built for ${MACHINE} (${DISTRO})" > "${HELLO_FILE}"
}
