# Inherited by every recipe: the one task everything depends on.
addtask build
do_build[dirs] = "${B}"
do_build() {
    :
}
