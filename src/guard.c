/*
 * Copies to or from a file mapping without letting SIGBUS kill the process.
 *
 * Touching a page of a mapping that lies past the end of its file (because
 * another process truncated the file) raises SIGBUS. The copy below sets a
 * thread-local recovery point with sigsetjmp and copies one page at a time;
 * the SIGBUS handler, installed once, jumps back to that point when the
 * fault happened inside a guarded copy on the faulting thread, and the copy
 * reports how many bytes it finished before the fault. Faults anywhere else
 * are passed to the handler the program had before, or to the default
 * action. The jump never leaves this file's frames, so it never unwinds
 * through Rust code.
 *
 * A program that installs its own SIGBUS handler after zcio's takes SIGBUS
 * over entirely; faults in zcio's guarded copies then reach that handler.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static struct sigaction previous_action;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;
static size_t page_size;

/*
 * The recovery point of the guarded copy running on this thread, or NULL.
 * initial-exec: reached without a call to __tls_get_addr, in the copy and in
 * the handler alike.
 */
static __thread sigjmp_buf *volatile recovery
    __attribute__((tls_model("initial-exec")));

static void reraise_default(int sig)
{
    struct sigaction dfl;
    sigset_t set;

    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    sigjmp_buf *point = recovery;

    if (point != NULL) {
        recovery = NULL;
        siglongjmp(*point, 1);
    }
    if (previous_action.sa_flags & SA_SIGINFO) {
        previous_action.sa_sigaction(sig, info, context);
    } else if (previous_action.sa_handler != SIG_DFL &&
               previous_action.sa_handler != SIG_IGN) {
        previous_action.sa_handler(sig);
    } else {
        /* Ignoring a fault would re-run the faulting instruction forever. */
        reraise_default(sig);
    }
}

static void install(void)
{
    struct sigaction action;

    page_size = (size_t)sysconf(_SC_PAGESIZE);
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous_action) != 0)
        install_error = -1;
}

/*
 * Installs the SIGBUS handler once per process; 0 or -1 (errno set). Called
 * when a mapping is made, so the copies below need not check.
 */
__attribute__((visibility("hidden"))) int zcio_internal_guard_install(void)
{
    pthread_once(&install_once, install);
    return install_error;
}

/*
 * The handler jumped here out of a fault; SIGBUS is still blocked, since
 * the handler never returned.
 */
static void recover_mask(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * Copies len bytes from src to dst, page by page of the mapped side
 * (`mapped` is src or dst). Returns 0 when all were copied, or -1 after a
 * SIGBUS, with *copied_out the bytes copied before the faulting page.
 */
__attribute__((visibility("hidden"))) int zcio_internal_guard_copy(
    void *dst, const void *src, size_t len,
    const void *mapped, size_t *copied_out)
{
    sigjmp_buf point;
    volatile size_t done = 0;
    size_t mask = page_size - 1;

    if (sigsetjmp(point, 0) != 0) {
        recover_mask();
        *copied_out = done;
        return -1;
    }
    recovery = &point;
    while (done < len) {
        uintptr_t at = (uintptr_t)mapped + done;
        size_t chunk = page_size - (size_t)(at & mask);

        if (chunk > len - done)
            chunk = len - done;
        memcpy((char *)dst + done, (const char *)src + done, chunk);
        done += chunk;
    }
    recovery = NULL;
    *copied_out = done;
    return 0;
}
