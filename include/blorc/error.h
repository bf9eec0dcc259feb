/* Error reporting: every library function that can fail returns a blorc_status and, when
 * given a non-NULL blorc_error, fills it with a one-line message naming the file, field or
 * value and what was expected. Library code never prints and never exits. */
#ifndef BLORC_ERROR_H
#define BLORC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum blorc_status {
  BLORC_OK = 0,
  BLORC_EINVAL,   /* an argument or input value out of range */
  BLORC_EIO,      /* a file could not be opened, read or written */
  BLORC_EFORMAT,  /* a file's contents are not what was expected */
  BLORC_ENOMEM,   /* host or device allocation failed */
  BLORC_ENUMERIC, /* a factorisation failed or a non-finite value appeared */
  BLORC_EDEVICE   /* a CUDA, cuBLAS or cuSOLVER call failed, or no device */
} blorc_status;

typedef struct blorc_error {
  blorc_status code;
  char msg[512];
} blorc_error;

/* Records code and a printf-style message in err (ignored when err is NULL); returns code so
 * callers can write `return blorc_fail(err, BLORC_EINVAL, "...")`. */
blorc_status blorc_fail(blorc_error *err, blorc_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clears err to BLORC_OK and an empty message. err may be NULL. */
void blorc_error_clear(blorc_error *err);

/* Short constant name of a status ("invalid argument", ...). Never NULL. */
const char *blorc_status_name(blorc_status code);

#ifdef __cplusplus
}
#endif
#endif
