/* The error type: a status code and a one-line message. */
#include "blorc/error.h"

#include <stdarg.h>
#include <stdio.h>

blorc_status blorc_fail(blorc_error *err, blorc_status code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

void blorc_error_clear(blorc_error *err) {
  if (!err) return;
  err->code = BLORC_OK;
  err->msg[0] = '\0';
}

const char *blorc_status_name(blorc_status code) {
  switch (code) {
    case BLORC_OK: return "ok";
    case BLORC_EINVAL: return "invalid argument";
    case BLORC_EIO: return "i/o error";
    case BLORC_EFORMAT: return "bad file format";
    case BLORC_ENOMEM: return "out of memory";
    case BLORC_ENUMERIC: return "numerical failure";
    case BLORC_EDEVICE: return "device error";
  }
  return "unknown error";
}
