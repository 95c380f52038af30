#include "tf_log.h"
#include "tf_mask.h"
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char s_service [32] = "ticketflow";
static tf_log_level_t s_level = TF_LOG_INFO;

void
tf_log_init (const char *service, const char *level)
{
    snprintf (s_service, sizeof s_service, "%s", service);
    static const char *names [] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (level && strcmp (level, names [i]) == 0)
            s_level = (tf_log_level_t) i;
}

void
tf_log (tf_log_level_t level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    static const char *tags [] = { "DEBUG", "INFO", "WARN", "ERROR" };
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char line [2048];
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, (int) (tv.tv_usec / 1000), s_service, (int) getpid (), tags [level]);
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line + n, sizeof line - (size_t) n - 1, fmt, ap);
    va_end (ap);
    //  no personal number in a log line, whatever the message quotes (a
    //  refused request's value, a database error's row)
    size_t len = strlen (line), masked_len;
    char *masked = tf_mask_quiet (line + n, len - (size_t) n, &masked_len);
    if (masked) {
        memcpy (line + n, masked, masked_len + 1);
        len = (size_t) n + masked_len;
        free (masked);
    }
    //  one write per line, so concurrent threads never interleave within a line
    for (size_t i = (size_t) n; i < len; i++)
        if (line [i] == '\n' || line [i] == '\r')
            line [i] = ' ';
    line [len++] = '\n';
    fwrite (line, 1, len, stderr);
}
