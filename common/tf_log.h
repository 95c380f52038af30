/*  tf_log — one line per event on stderr:
    2026-11-23T09:30:00.123Z intake[4242] WARN malformed request: ...
    Callers never pass unmasked customer text.
*/
#ifndef TF_LOG_H
#define TF_LOG_H

typedef enum { TF_LOG_DEBUG, TF_LOG_INFO, TF_LOG_WARN, TF_LOG_ERROR } tf_log_level_t;

void tf_log_init (const char *service, const char *level);   //  level: debug|info|warn|error
void tf_log (tf_log_level_t level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#define tf_debug(...) tf_log (TF_LOG_DEBUG, __VA_ARGS__)
#define tf_info(...)  tf_log (TF_LOG_INFO, __VA_ARGS__)
#define tf_warn(...)  tf_log (TF_LOG_WARN, __VA_ARGS__)
#define tf_error(...) tf_log (TF_LOG_ERROR, __VA_ARGS__)

#endif
