/* A static program with no libc at all (x86_64 Linux): it sleeps 60 s through raw
 * system calls and exits. `arena-sweep inspect` must say that glibc's arenas do not
 * apply. Built by the tests with gcc -static -nostdlib. */
struct timespec_ { long sec, nsec; };

void _start(void) {
    struct timespec_ t = {60, 0};
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(35L), "D"(&t), "S"(0L) : "rcx", "r11", "memory");
    __asm__ volatile("syscall" : : "a"(60L), "D"(0L) : "rcx", "r11", "memory");
    for (;;) {
    }
}
