/* zcio_err_name and zcio_strerror return the right static string for every
 * named code and a non-NULL one for any int; OS codes equal -errno. */
#include <limits.h>

#include "test_util.h"

#define MIRRORS(X)                                                           \
    X(EPERM) X(ENOENT) X(EINTR) X(EIO) X(EBADF) X(EAGAIN) X(ENOMEM)          \
    X(EACCES) X(EFAULT) X(EBUSY) X(EXDEV) X(ENODEV) X(EISDIR) X(EINVAL)      \
    X(ENFILE) X(EMFILE) X(EFBIG) X(ENOSPC) X(ESPIPE) X(EROFS) X(EPIPE)       \
    X(ENOSYS) X(EOVERFLOW) X(EOPNOTSUPP) X(ECONNRESET) X(ENOTCONN)           \
    X(ETIMEDOUT)

#define LIBRARY(X)                                                           \
    X(ENULL) X(EPANIC) X(ESHORT) X(EBOUNDS) X(EFLAGS) X(ENOMECH) X(ENOPIPE)  \
    X(ESTRUCT)

/* Positive codes that zcio_copy and zcio_transfer_step return: not errors,
 * but named all the same. */
#define STATUSES(X) X(WANT_READ) X(WANT_WRITE) X(MORE)

/* The OS mirrors keep the kernel's numbers, so strerror(-rc) works. */
#define ASSERT_MIRROR(e)                                                     \
    _Static_assert(ZCIO_##e == -e, "ZCIO_" #e " must equal -" #e);
MIRRORS(ASSERT_MIRROR)

/* Library codes live below -4095, where no errno can reach. */
#define ASSERT_LIBRARY(e)                                                    \
    _Static_assert(ZCIO_##e < -4095, "ZCIO_" #e " must be below -4095");
LIBRARY(ASSERT_LIBRARY)

_Static_assert(ZCIO_OK == 0, "ZCIO_OK must be 0");

#define ASSERT_STATUS(e)                                                     \
    _Static_assert(ZCIO_##e > 0, "ZCIO_" #e " must be positive");
STATUSES(ASSERT_STATUS)

struct code {
    int value;
    const char *name;
};

#define ENTRY(e) { ZCIO_##e, "ZCIO_" #e },
static const struct code codes[] = {
    { ZCIO_OK, "ZCIO_OK" },
    MIRRORS(ENTRY)
    LIBRARY(ENTRY)
    STATUSES(ENTRY)
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

#define ONE(e) +1
enum { NMIRRORS = 0 MIRRORS(ONE), NLIBRARY = 0 LIBRARY(ONE) };

static void named_codes(void)
{
    for (size_t i = 0; i < NCODES; i++) {
        const char *name = zcio_err_name(codes[i].value);
        const char *msg = zcio_strerror(codes[i].value);

        if (name == NULL || strcmp(name, codes[i].name) != 0)
            tu_fail(__FILE__, __LINE__, "zcio_err_name(%d) is \"%s\", not %s",
                    codes[i].value, name ? name : "(null)", codes[i].name);
        if (msg == NULL || msg[0] == '\0')
            tu_fail(__FILE__, __LINE__, "zcio_strerror(%s) is empty",
                    codes[i].name);
        for (size_t j = 0; j < i; j++)
            CHECK(codes[j].value != codes[i].value);
    }
}

/* Library codes each have their own message, none of them the OS's. */
static void library_messages(void)
{
    for (size_t i = 1 + NMIRRORS; i < 1 + NMIRRORS + NLIBRARY; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(zcio_strerror(codes[i].value),
                       zcio_strerror(codes[j].value)) == 0)
                tu_fail(__FILE__, __LINE__, "%s and %s share a message",
                        codes[i].name, codes[j].name);
        }
    }
}

/* An OS code reads like strerror(), and one without a ZCIO_ constant is
 * named after its errno. */
static void os_codes(void)
{
    for (size_t i = 1; i <= NMIRRORS; i++) {
        const char *msg = zcio_strerror(codes[i].value);

        if (strcmp(msg, strerror(-codes[i].value)) != 0)
            tu_fail(__FILE__, __LINE__, "zcio_strerror(%s) is \"%s\", not "
                    "\"%s\"", codes[i].name, msg,
                    strerror(-codes[i].value));
    }
    CHECK(strcmp(zcio_err_name(-ENODATA), "ENODATA") == 0);
    CHECK(strcmp(zcio_strerror(-ENODATA), strerror(ENODATA)) == 0);
}

static void unknown_codes(void)
{
    static const int unknown[] = { 42, 4096, INT_MAX, INT_MIN, -6000, -5000,
                                   -100000 };

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *name = zcio_err_name(unknown[i]);
        const char *msg = zcio_strerror(unknown[i]);

        CHECK(name != NULL && strcmp(name, "ZCIO_UNKNOWN") == 0);
        CHECK(msg != NULL && msg[0] != '\0');
    }
}

/* Any int at all: never NULL, never empty. */
static void random_codes(void)
{
    uint64_t x = 0x2545f4914f6cdd1dULL;

    for (int i = 0; i < 100000; i++) {
        int code;
        const char *name, *msg;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Half of them small, where the real codes are. */
        code = (i & 1) ? (int)(uint32_t)x : (int)(x % 12000) - 6000;
        name = zcio_err_name(code);
        msg = zcio_strerror(code);
        if (name == NULL || msg == NULL || name[0] == '\0' || msg[0] == '\0')
            tu_fail(__FILE__, __LINE__, "NULL or empty string for %d", code);
    }
}

int main(void)
{
    named_codes();
    library_messages();
    os_codes();
    unknown_codes();
    random_codes();
    return TU_PASS;
}
