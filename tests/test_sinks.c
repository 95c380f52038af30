//  The notifier's sinks: the webhook's signature and idempotency key
//  (checked by an HTTP server in the test), the e-mail sink against a real
//  SMTP server the test starts (aiosmtpd, storing into a maildir), alone and
//  through the notifier (routing, the customer's address, a server that
//  goes away: retried, then dead), the file sink's memory of what it
//  delivered, the rate limit and the quiet flag.
#include "notifier.h"
#include "notifier_sink.h"
#include "tf_test.h"
#include "tf_utf8.h"
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

//  A hang fails its test instead of stalling CI
TestSuite (sinks, .timeout = 60);

//  --------------------------------------------------------------------------
//  Helpers

//  A fresh folder under /tmp, removed by s_remove_tree
static void
s_temp_dir (char *dir, size_t size)
{
    snprintf (dir, size, "/tmp/tf-sinks-%d-XXXXXX", (int) getpid ());
    cr_assert (mkdtemp (dir), "mkdtemp: %s", strerror (errno));
}

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) ftw;
    return flag == FTW_DP? rmdir (path): unlink (path);
}

static void
s_remove_tree (const char *dir)
{
    if (*dir)
        nftw (dir, s_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}


static int
s_deliver (notifier_sink_t *sink, const char *json, char *error, size_t error_size)
{
    return notifier_sink_deliver (sink, json, strlen (json), error, error_size);
}

//  Standard base64, whitespace skipped, up to the first '='; returns the
//  decoded length (out has room for 3/4 of the input and a NUL)
static size_t
s_base64_decode (const char *in, size_t len, char *out)
{
    static const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t bits = 0;
    int nbits = 0;
    size_t size = 0;
    for (size_t i = 0; i < len && in [i] != '='; i++) {
        if (in [i] == ' ' || in [i] == '\t' || in [i] == '\r' || in [i] == '\n')
            continue;
        const char *digit = in [i]? strchr (alphabet, in [i]): NULL;
        cr_assert (digit, "not base64: '%c'", in [i]);
        bits = bits << 6 | (uint32_t) (digit - alphabet);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out [size++] = (char) (bits >> nbits & 0xff);
        }
    }
    out [size] = 0;
    return size;
}

//  --------------------------------------------------------------------------
//  The webhook test server is tf_test_hook_t

static notifier_sink_t *
s_webhook (tf_test_hook_t *hook, const char *secret)
{
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/hook", hook->port);
    notifier_sink_t *sink = notifier_sink_webhook_new ("webhook", url, 5000, secret);
    cr_assert (sink);
    return sink;
}

//  "sha256=" and the lowercase hex of HMAC-SHA256 (secret, body), as the
//  receiver computes it
static void
s_expected_signature (const char *secret, const void *body, size_t size, char *out, size_t out_size)
{
    unsigned char mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    cr_assert (HMAC (EVP_sha256 (), secret, (int) strlen (secret), body, size, mac, &mac_len));
    cr_assert_eq (mac_len, 32);
    cr_assert (out_size > 7 + 2 * mac_len);
    strcpy (out, "sha256=");
    for (unsigned int i = 0; i < mac_len; i++)
        sprintf (out + 7 + 2 * i, "%02x", mac [i]);
}

//  --------------------------------------------------------------------------
//  The webhook

Test (sinks, webhook_signs_each_body_with_the_secret)
{
    tf_test_hook_t *hook = tf_test_hook_new (200);
    notifier_sink_t *sink = s_webhook (hook, "s3cret-密钥");
    cr_assert_null (notifier_sink_contact (sink));
    char error [256];
    const char *body = "{\"kind\":\"confirm_request\",\"message\":\"您好\",\"message_id\":42}";
    cr_assert_eq (s_deliver (sink, body, error, sizeof error), 0, "%s", error);
    cr_assert_eq (hook->requests, 1);
    cr_assert_eq (hook->body_size, strlen (body));
    cr_assert (memcmp (hook->body, body, hook->body_size) == 0);
    char expected [128];
    s_expected_signature ("s3cret-密钥", body, strlen (body), expected, sizeof expected);
    cr_assert (hook->has_signature);
    cr_assert_str_eq (hook->signature, expected);
    cr_assert (hook->has_idempotency_key);
    cr_assert_str_eq (hook->idempotency_key, "42");

    //  another body, another signature; a retry of a message keeps its key
    const char *retry = "{\"message_id\":42,\"kind\":\"confirm_request\",\"message\":\"您好\"}";
    cr_assert_eq (s_deliver (sink, retry, error, sizeof error), 0, "%s", error);
    s_expected_signature ("s3cret-密钥", retry, strlen (retry), expected, sizeof expected);
    cr_assert_str_eq (hook->signature, expected);
    cr_assert_str_eq (hook->idempotency_key, "42");
    notifier_sink_destroy (&sink);

    //  RFC 4231 test case 2, so the signature is the standard HMAC and not
    //  only what this OpenSSL computes twice; not JSON: no key
    sink = s_webhook (hook, "Jefe");
    cr_assert_eq (s_deliver (sink, "what do ya want for nothing?", error, sizeof error), 0, "%s", error);
    cr_assert_str_eq (hook->signature, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    cr_assert_not (hook->has_idempotency_key);
    notifier_sink_destroy (&sink);
    tf_test_hook_destroy (&hook);
}

Test (sinks, webhook_without_a_secret_is_unsigned)
{
    tf_test_hook_t *hook = tf_test_hook_new (204);
    char error [256];
    const char *secrets [] = { NULL, "" };
    for (size_t i = 0; i < 2; i++) {
        notifier_sink_t *sink = s_webhook (hook, secrets [i]);
        cr_assert_eq (s_deliver (sink, "{\"message_id\":7}", error, sizeof error), 0, "%s", error);
        cr_assert_not (hook->has_signature, "signed with secret %s", secrets [i]? "\"\"": "NULL");
        cr_assert_str_eq (hook->idempotency_key, "7");
        //  no message_id, or not an integer: no key
        cr_assert_eq (s_deliver (sink, "{\"x\":1}", error, sizeof error), 0, "%s", error);
        cr_assert_not (hook->has_idempotency_key);
        cr_assert_eq (s_deliver (sink, "{\"message_id\":\"7\"}", error, sizeof error), 0, "%s", error);
        cr_assert_not (hook->has_idempotency_key);
        notifier_sink_destroy (&sink);
    }
    cr_assert_eq (hook->requests, 6);
    tf_test_hook_destroy (&hook);
}

Test (sinks, webhook_error_status_fails)
{
    tf_test_hook_t *hook = tf_test_hook_new (500);
    notifier_sink_t *sink = s_webhook (hook, "s3cret");
    char error [256];
    cr_assert_eq (s_deliver (sink, "{\"message_id\":9}", error, sizeof error), -1);
    cr_assert_str_eq (error, "webhook: HTTP 500");
    cr_assert (hook->has_signature);    //  it was sent, signed, and refused
    //  the webhook cannot tell what it delivered before
    cr_assert_eq (notifier_sink_seen (sink, 9), -1);
    notifier_sink_destroy (&sink);
    tf_test_hook_destroy (&hook);
}

//  --------------------------------------------------------------------------
//  The e-mail sink against aiosmtpd, which stores each message it accepts
//  in a maildir. Started in .init and stopped in .fini, which Criterion
//  runs after a failed assertion too; PR_SET_PDEATHSIG ends it when the
//  test process is killed at its timeout.

static char s_smtp_dir [256];
static char s_maildir [300];
static pid_t s_smtp_pid;
static int s_smtp_port;

static const char *s_from = "service@ticketflow.example.com";
static const char *s_to = "customer.zhang@example.cn";

static bool
s_port_accepts (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    bool ok = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return ok;
}

static void
s_smtp_stop (void)
{
    if (s_smtp_pid > 0) {
        kill (s_smtp_pid, SIGTERM);
        int status;
        for (int i = 0; i < 100 && waitpid (s_smtp_pid, &status, WNOHANG) == 0; i++)
            usleep (50 * 1000);
        if (waitpid (s_smtp_pid, &status, WNOHANG) == 0) {
            kill (s_smtp_pid, SIGKILL);
            waitpid (s_smtp_pid, &status, 0);
        }
        s_smtp_pid = 0;
    }
}

static void
s_smtp_start (void)
{
    s_temp_dir (s_smtp_dir, sizeof s_smtp_dir);
    snprintf (s_maildir, sizeof s_maildir, "%s/Maildir", s_smtp_dir);
    char log [300], listen [64];
    snprintf (log, sizeof log, "%s/aiosmtpd.log", s_smtp_dir);
    s_smtp_port = tf_test_free_port ();
    snprintf (listen, sizeof listen, "127.0.0.1:%d", s_smtp_port);
    pid_t parent = getpid ();
    s_smtp_pid = fork ();
    cr_assert_geq (s_smtp_pid, 0, "fork: %s", strerror (errno));
    if (s_smtp_pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (1);
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        execl ("/usr/bin/python3", "python3", "-m", "aiosmtpd", "-n", "-l", listen,
               "-c", "aiosmtpd.handlers.Mailbox", s_maildir, (char *) NULL);
        _exit (127);
    }
    for (int i = 0; i < 200; i++) {          //  10 s; it takes well under one
        int status;
        if (waitpid (s_smtp_pid, &status, WNOHANG) == s_smtp_pid) {
            s_smtp_pid = 0;
            char *text = tf_test_read_file (log);
            cr_assert_fail ("aiosmtpd exited (is python3-aiosmtpd installed?): %s", text? text: "");
        }
        if (s_port_accepts (s_smtp_port))
            return;
        usleep (50 * 1000);
    }
    cr_assert_fail ("aiosmtpd does not listen on %s", listen);
}

static void
s_smtp_fini (void)
{
    s_smtp_stop ();
    s_remove_tree (s_smtp_dir);
}

static notifier_sink_t *
s_smtp_sink (void)
{
    char url [64];
    snprintf (url, sizeof url, "smtp://127.0.0.1:%d", s_smtp_port);
    notifier_sink_t *sink = notifier_sink_smtp_new ("email", url, s_from, 5000);
    cr_assert (sink);
    return sink;
}

//  The messages the server stored, in the order they arrived (caller frees
//  each); returns how many
static size_t
s_mails (char **mails, size_t max)
{
    char dir [400];
    snprintf (dir, sizeof dir, "%s/new", s_maildir);
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    char *names [16];
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (d)) && count < 16)
        if (entry->d_name [0] != '.')
            names [count++] = strdup (entry->d_name);
    closedir (d);
    //  maildir names start with the time in seconds: sort by it, then name
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && strcmp (names [j - 1], names [j]) > 0; j--) {
            char *swap = names [j];
            names [j] = names [j - 1];
            names [j - 1] = swap;
        }
    for (size_t i = 0; i < count; i++) {
        if (i < max) {
            char path [700];
            snprintf (path, sizeof path, "%s/%s", dir, names [i]);
            mails [i] = tf_test_read_file (path);
            cr_assert (mails [i]);
        }
        free (names [i]);
    }
    return count;
}

//  The value of header `name` (the first one), unfolded: line breaks out,
//  the continuation lines' leading white space kept; NULL when absent
static char *
s_header (const char *mail, const char *name)
{
    size_t name_len = strlen (name);
    const char *line = mail;
    while (*line && *line != '\n' && !(line [0] == '\r' && line [1] == '\n')) {
        const char *end = strchr (line, '\n');
        if (!end)
            end = line + strlen (line);
        if (strncasecmp (line, name, name_len) == 0 && line [name_len] == ':') {
            char *value = calloc (1, strlen (line) + 1);
            size_t size = 0;
            const char *p = line + name_len + 1;
            while (*p == ' ')
                p++;
            while (true) {
                for (; p < end; p++)
                    if (*p != '\r')
                        value [size++] = *p;
                if (!*end || (end [1] != ' ' && end [1] != '\t'))
                    break;
                p = end + 1;
                end = strchr (p, '\n');
                if (!end)
                    end = p + strlen (p);
            }
            return value;
        }
        line = *end? end + 1: end;
    }
    return NULL;
}

//  What follows the blank line after the headers
static const char *
s_body (const char *mail)
{
    const char *body = strstr (mail, "\n\n");
    const char *crlf = strstr (mail, "\r\n\r\n");
    if (crlf && (!body || crlf < body))
        return crlf + 4;
    cr_assert (body, "no body");
    return body + 2;
}

//  RFC 2047: the concatenated text of the =?UTF-8?B?...?= words of value,
//  asserting that only white space separates them, that each is at most
//  75 characters and that each holds whole UTF-8 characters
static char *
s_decode_words (const char *value, int *words)
{
    char *text = calloc (1, strlen (value) + 1);
    size_t size = 0;
    *words = 0;
    const char *p = value;
    while (*p) {
        if (*p == ' ' || *p == '\t') {
            p++;
            continue;
        }
        cr_assert (strncmp (p, "=?UTF-8?B?", 10) == 0, "not an encoded-word: %s", p);
        const char *end = strstr (p + 10, "?=");
        cr_assert (end, "unterminated encoded-word: %s", p);
        cr_assert_leq (end + 2 - p, 75, "encoded-word of %d characters", (int) (end + 2 - p));
        size_t n = s_base64_decode (p + 10, (size_t) (end - p - 10), text + size);
        cr_assert (tf_utf8_valid (text + size, n), "encoded-word %d cuts a character", *words + 1);
        size += n;
        (*words)++;
        p = end + 2;
    }
    text [size] = 0;
    return text;
}

Test (sinks, smtp_sends_a_mime_message, .init = s_smtp_start, .fini = s_smtp_fini)
{
    notifier_sink_t *sink = s_smtp_sink ();
    cr_assert_str_eq (notifier_sink_contact (sink), "email");
    const char *subject = "关于您的工单 TK-20261123-0042 的处理结果确认:请回复是否已经解决,谢谢您的耐心等待";
    char json [2048];
    snprintf (json, sizeof json,
              "{\"to\":\"%s\",\"subject\":\"%s\",\"ticket_no\":\"TK-20261123-0042\","
              "\"message\":\"您好,您反馈的问题已处理完毕。\\n请回复 1 确认解决,回复 2 重新打开。\\n\\n.\\n"
              "A long line of text that goes past seventy-six characters, so the base64 has several lines.\","
              "\"message_id\":4242,\"kind\":\"confirm_request\"}", s_to, subject);
    char error [256];
    cr_assert_eq (s_deliver (sink, json, error, sizeof error), 0, "%s", error);

    char *mails [4];
    cr_assert_eq (s_mails (mails, 4), 1);
    char *mail = mails [0];
    //  the envelope, as the server recorded it
    char *value = s_header (mail, "X-RcptTo");
    cr_assert_str_eq (value, s_to);
    free (value);
    value = s_header (mail, "X-MailFrom");
    cr_assert_str_eq (value, s_from);
    free (value);
    //  the headers
    value = s_header (mail, "From");
    cr_assert_str_eq (value, s_from);
    free (value);
    value = s_header (mail, "To");
    cr_assert_str_eq (value, s_to);
    free (value);
    value = s_header (mail, "Message-ID");
    cr_assert_str_eq (value, "<ticketflow-4242@ticketflow.example.com>");
    free (value);
    value = s_header (mail, "MIME-Version");
    cr_assert_str_eq (value, "1.0");
    free (value);
    value = s_header (mail, "Content-Type");
    cr_assert_str_eq (value, "text/plain; charset=UTF-8");
    free (value);
    value = s_header (mail, "Content-Transfer-Encoding");
    cr_assert_str_eq (value, "base64");
    free (value);
    value = s_header (mail, "Date");
    cr_assert (value);
    //  "Mon, 23 Nov 2026 09:30:00 +0800"
    char day [4], month [4], zone [6];
    int mday, year, hour, minute, second;
    cr_assert_eq (sscanf (value, "%3[A-Za-z], %d %3s %d %d:%d:%d %5s", day, &mday, month, &year, &hour, &minute,
                          &second, zone), 8, "Date: %s", value);
    cr_assert (strchr (value, ',') == value + 3 && (zone [0] == '+' || zone [0] == '-'), "Date: %s", value);
    cr_assert (strstr ("JanFebMarAprMayJunJulAugSepOctNovDec", month) && year >= 2024, "Date: %s", value);
    free (value);
    //  the subject: several encoded-words, whole characters each, that
    //  decode to the subject
    value = s_header (mail, "Subject");
    cr_assert (value);
    int words;
    char *decoded = s_decode_words (value, &words);
    cr_assert_str_eq (decoded, subject);
    cr_assert_gt (words, 1);
    free (decoded);
    free (value);
    //  the body: base64 in lines of at most 76, the text with CRLF line ends
    const char *body = s_body (mail);
    for (const char *line = body; *line; ) {
        size_t len = strcspn (line, "\r\n");
        cr_assert_leq (len, 76);
        line += len;
        line += strspn (line, "\r\n");
    }
    char *text = calloc (1, strlen (body) + 1);
    s_base64_decode (body, strlen (body), text);
    cr_assert_str_eq (text, "您好,您反馈的问题已处理完毕。\r\n请回复 1 确认解决,回复 2 重新打开。\r\n\r\n.\r\n"
                            "A long line of text that goes past seventy-six characters, so the base64 has several lines.");
    free (text);
    free (mail);
    notifier_sink_destroy (&sink);
    notifier_sink_destroy (&sink);          //  safe twice
}

Test (sinks, smtp_subject_defaults_to_the_ticket, .init = s_smtp_start, .fini = s_smtp_fini)
{
    notifier_sink_t *sink = s_smtp_sink ();
    char json [512], error [256];
    snprintf (json, sizeof json, "{\"to\":\"%s\",\"ticket_no\":\"TK-1\",\"message\":\"a\",\"message_id\":1}", s_to);
    cr_assert_eq (s_deliver (sink, json, error, sizeof error), 0, "%s", error);
    //  an empty subject is no subject
    snprintf (json, sizeof json, "{\"to\":\"%s\",\"subject\":\"\",\"message\":\"b\",\"message_id\":2}", s_to);
    cr_assert_eq (s_deliver (sink, json, error, sizeof error), 0, "%s", error);
    //  no message_id: no Message-ID of ours (the server may add one)
    snprintf (json, sizeof json, "{\"to\":\"%s\",\"subject\":\"plain\",\"message\":\"\"}", s_to);
    cr_assert_eq (s_deliver (sink, json, error, sizeof error), 0, "%s", error);
    char *mails [4];
    cr_assert_eq (s_mails (mails, 4), 3);
    //  the maildir's order within one second is not the order sent: each
    //  mail is known by its subject
    const char *subjects [] = { "工单 TK-1", "ticketflow", "plain" };
    bool seen [3] = { false, false, false };
    for (int i = 0; i < 3; i++) {
        char *value = s_header (mails [i], "Subject");
        int words;
        char *decoded = s_decode_words (value, &words);
        int k = 0;
        while (k < 3 && strcmp (decoded, subjects [k]) != 0)
            k++;
        cr_assert_lt (k, 3, "unexpected subject %s", decoded);
        cr_assert_not (seen [k], "two mails with subject %s", decoded);
        seen [k] = true;
        free (decoded);
        free (value);
        value = s_header (mails [i], "Message-ID");
        if (k < 2) {
            char want [64];
            snprintf (want, sizeof want, "<ticketflow-%d@ticketflow.example.com>", k + 1);
            cr_assert_str_eq (value, want);
        }
        else
            cr_assert (!value || !strstr (value, "ticketflow-"), "Message-ID: %s", value);
        free (value);
        free (mails [i]);
    }
    notifier_sink_destroy (&sink);
}

Test (sinks, smtp_refuses_documents_without_an_address, .init = s_smtp_start, .fini = s_smtp_fini)
{
    notifier_sink_t *sink = s_smtp_sink ();
    char error [256];
    cr_assert_eq (s_deliver (sink, "{\"message\":\"hi\",\"message_id\":3}", error, sizeof error), -1);
    cr_assert_str_eq (error, "smtp: no e-mail address");
    cr_assert_eq (s_deliver (sink, "{\"to\":\"\",\"message\":\"hi\",\"message_id\":3}", error, sizeof error), -1);
    cr_assert_str_eq (error, "smtp: no e-mail address");
    cr_assert_eq (s_deliver (sink, "{\"to\":13812345678,\"message\":\"hi\"}", error, sizeof error), -1);
    cr_assert_str_eq (error, "smtp: no e-mail address");
    //  an address that would add a header or a recipient: refused, not quoted
    const char *bad [] = {
        "{\"to\":\"victim@example.cn\\r\\nBcc: all@example.cn\",\"message\":\"hi\"}",
        "{\"to\":\"victim@example.cn, all@example.cn\",\"message\":\"hi\"}",
        "{\"to\":\"Victim <victim@example.cn>\",\"message\":\"hi\"}",
        "{\"to\":\"victim.example.cn\",\"message\":\"hi\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cr_assert_eq (s_deliver (sink, bad [i], error, sizeof error), -1, "%s", bad [i]);
        cr_assert (strncmp (error, "smtp: ", 6) == 0 && !strstr (error, "victim"), "%s", error);
    }
    cr_assert_eq (s_deliver (sink, "not json", error, sizeof error), -1);
    cr_assert (strncmp (error, "smtp: ", 6) == 0, "%s", error);
    char *mails [4];
    cr_assert_eq (s_mails (mails, 4), 0);
    //  a sender that is not a plain address: no sink
    char url [64];
    snprintf (url, sizeof url, "smtp://127.0.0.1:%d", s_smtp_port);
    cr_assert_null (notifier_sink_smtp_new ("email", url, "Service <service@example.com>", 5000));
    cr_assert_null (notifier_sink_smtp_new ("email", url, "service", 5000));
    notifier_sink_destroy (&sink);
}

Test (sinks, smtp_fails_when_the_server_is_down, .init = s_smtp_start, .fini = s_smtp_fini)
{
    notifier_sink_t *sink = s_smtp_sink ();
    char json [512], error [256];
    snprintf (json, sizeof json, "{\"to\":\"%s\",\"message\":\"hi\",\"message_id\":5}", s_to);
    cr_assert_eq (s_deliver (sink, json, error, sizeof error), 0, "%s", error);
    s_smtp_stop ();
    cr_assert_not (s_port_accepts (s_smtp_port));
    int64_t start = zclock_mono ();
    cr_assert_eq (s_deliver (sink, json, error, sizeof error), -1);
    cr_assert (zclock_mono () - start < 3000);
    cr_assert (strncmp (error, "smtp: ", 6) == 0 && strlen (error) > 6, "error: %s", error);
    cr_assert_null (strstr (error, s_to), "the error quotes the address: %s", error);
    cr_assert_null (strchr (error, '\n'));
    notifier_sink_destroy (&sink);
}

//  Through the notifier: a customer on the e-mail channel gets the message
//  at their address; with the server gone the message fails, is retried
//  after its back-off and is dead after the last attempt
Test (sinks, the_notifier_mails_the_customer_and_retries_then_gives_up, .init = s_smtp_start, .fini = s_smtp_fini)
{
    tf_db_t *db = tf_test_db ();
    char channel [64], customer [64];
    snprintf (channel, sizeof channel, "mail%s", tf_test_unique ());
    snprintf (customer, sizeof customer, "mail-%s", tf_test_unique ());
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "email");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "发票抬头开错了");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, customer);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_EMAIL, s_to);
    char no [32];
    int64_t id = tf_test_submit_msg (db, &m, no);
    //  this test's tickets on a channel its notifier alone serves
    tf_test_sql (db, "UPDATE tickets SET channel = '%s' WHERE id = %lld", channel, (long long) id);
    tf_test_sql (db, "DELETE FROM outbox WHERE ticket_id = %lld", (long long) id);
    notifier_t *notifier = notifier_new (db, 2, 1);
    cr_assert_eq (notifier_add_sink (notifier, s_smtp_sink ()), 0);
    char routes [128];
    snprintf (routes, sizeof routes, "%s=email", channel);
    notifier_policy_t policy = { .routes = routes, .channels = channel, .quiet_hours = "" };
    cr_assert_eq (notifier_configure (notifier, &policy), 0);
    cr_assert_str_eq (notifier_route (notifier, "customer", channel), "email");
    const char *queue = "SELECT outbox_id FROM tf_customer_messages ('reply', ARRAY [%lld::int8],"
                        " ARRAY ['{\"text\": \"发票已重开\"}'::jsonb], ARRAY ['%s'])";
    long long first = tf_test_scalar (db, queue, (long long) id, "first");
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (notifier, 50, 5000, &stats), 1);
    cr_assert_eq (stats.sent, 1);
    char *mails [4];
    cr_assert_eq (s_mails (mails, 4), 1);
    cr_assert (strstr (mails [0], s_to), "%s", mails [0]);
    char message_id [64];
    snprintf (message_id, sizeof message_id, "<ticketflow-%lld@", first);
    cr_assert (strstr (mails [0], message_id), "%s", mails [0]);
    free (mails [0]);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE id = %lld AND status = 'sent'"
                                      " AND delivered_via = 'email' AND NOT payload ? 'to'", first), 1);
    //  the server goes away
    s_smtp_stop ();
    long long second = tf_test_scalar (db, queue, (long long) id, "second");
    cr_assert_eq (notifier_deliver (notifier, 50, 5000, &stats), 1);
    cr_assert_eq (stats.retried, 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE id = %lld AND status = 'failed'"
                                      " AND attempts = 1 AND last_error LIKE 'smtp: %%'", second), 1);
    zclock_sleep (1200);
    cr_assert_eq (notifier_deliver (notifier, 50, 5000, &stats), 1);
    cr_assert_eq (stats.dead, 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE id = %lld AND status = 'dead'"
                                      " AND attempts = 2", second), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'notification_dead' AND note NOT LIKE '%%%s%%'",
                                  (long long) id, s_to), 1);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The file sink's seen()

static char s_file_dir [256];

static void
s_file_init (void)
{
    s_temp_dir (s_file_dir, sizeof s_file_dir);
}

static void
s_file_fini (void)
{
    s_remove_tree (s_file_dir);
}

Test (sinks, file_sink_knows_what_it_delivered, .init = s_file_init, .fini = s_file_fini)
{
    char path [300], json [128], error [256];
    snprintf (path, sizeof path, "%s/out/queue.jsonl", s_file_dir);
    notifier_sink_t *sink = notifier_sink_file_new ("file", path);
    cr_assert (sink);
    //  no file yet: nothing was delivered
    cr_assert_eq (notifier_sink_seen (sink, 1), 0);
    notifier_sink_destroy (&sink);

    sink = notifier_sink_file_new ("file", path);
    for (int id = 1; id <= 1000; id++) {
        snprintf (json, sizeof json, "{\"kind\":\"confirm_request\",\"message_id\":%d,\"ticket_no\":\"TK-%d\"}", id, id);
        cr_assert_eq (s_deliver (sink, json, error, sizeof error), 0, "%s", error);
    }
    notifier_sink_destroy (&sink);

    //  a new sink (the notifier after a crash) reads the file
    sink = notifier_sink_file_new ("file", path);
    cr_assert_eq (notifier_sink_seen (sink, 5), 1);
    cr_assert_eq (notifier_sink_seen (sink, 1), 1);
    cr_assert_eq (notifier_sink_seen (sink, 1000), 1);
    cr_assert_eq (notifier_sink_seen (sink, 5000), 0);
    cr_assert_eq (notifier_sink_seen (sink, 0), 0);
    //  and adds what it writes
    cr_assert_eq (s_deliver (sink, "{\"message_id\":5000}", error, sizeof error), 0, "%s", error);
    cr_assert_eq (notifier_sink_seen (sink, 5000), 1);
    //  a line out of order too
    cr_assert_eq (s_deliver (sink, "{\"message_id\":2500}", error, sizeof error), 0, "%s", error);
    cr_assert_eq (notifier_sink_seen (sink, 2500), 1);
    cr_assert_eq (notifier_sink_seen (sink, 2501), 0);

    //  another writer of the same file (a second notifier): its lines count
    notifier_sink_t *other = notifier_sink_file_new ("file", path);
    cr_assert_eq (s_deliver (other, "{\"message_id\":6000}", error, sizeof error), 0, "%s", error);
    notifier_sink_destroy (&other);
    cr_assert_eq (notifier_sink_seen (sink, 6000), 1);
    //  a line that is not JSON or has no id is skipped, not fatal
    FILE *f = fopen (path, "a");
    fputs ("garbage\n{\"message_id\":\"7000\"}\n{\"message_id\":7001}\n{\"message_id\":7002", f);
    fclose (f);
    cr_assert_eq (notifier_sink_seen (sink, 7000), 0);
    cr_assert_eq (notifier_sink_seen (sink, 7001), 1);
    cr_assert_eq (notifier_sink_seen (sink, 7002), 0);     //  unfinished: not yet
    f = fopen (path, "a");
    fputs ("}\n", f);
    fclose (f);
    cr_assert_eq (notifier_sink_seen (sink, 7002), 1);
    notifier_sink_destroy (&sink);
}

Test (sinks, file_sink_reads_only_the_last_16_mb, .init = s_file_init, .fini = s_file_fini)
{
    char path [300];
    snprintf (path, sizeof path, "%s/big.jsonl", s_file_dir);
    FILE *f = fopen (path, "w");
    cr_assert (f);
    //  id 1, then 17 MB of lines without ids, then ids 2..10
    fputs ("{\"message_id\":1}\n", f);
    char filler [1025];
    memset (filler, 'x', 1024);
    filler [1024] = 0;
    for (int i = 0; i < 17 * 1024; i++)
        fprintf (f, "{\"pad\":\"%s\"}\n", filler);
    for (int id = 2; id <= 10; id++)
        fprintf (f, "{\"message_id\":%d}\n", id);
    fclose (f);
    notifier_sink_t *sink = notifier_sink_file_new ("file", path);
    cr_assert_eq (notifier_sink_seen (sink, 2), 1);
    cr_assert_eq (notifier_sink_seen (sink, 10), 1);
    //  outside the window, or not there at all: it cannot tell
    cr_assert_eq (notifier_sink_seen (sink, 1), -1);
    cr_assert_eq (notifier_sink_seen (sink, 11), -1);
    char error [256];
    cr_assert_eq (s_deliver (sink, "{\"message_id\":11}", error, sizeof error), 0, "%s", error);
    cr_assert_eq (notifier_sink_seen (sink, 11), 1);
    notifier_sink_destroy (&sink);
}

//  --------------------------------------------------------------------------
//  Rate and quiet

//  a sink's parts for the tests of its settings: never called
static int
s_never (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    (void) state; (void) json; (void) len;
    snprintf (error, error_size, "never");
    return -1;
}

Test (sinks, admit_is_a_token_bucket)
{
    notifier_sink_t *sink = notifier_sink_new ("sms", "phone", NULL, s_never, NULL);
    //  no limit by default
    for (int i = 0; i < 1000; i++)
        cr_assert (notifier_sink_admit (sink, 0));
    notifier_sink_set_rate (sink, 2);
    cr_assert (notifier_sink_admit (sink, 0));
    cr_assert (notifier_sink_admit (sink, 0));
    cr_assert_not (notifier_sink_admit (sink, 0));
    cr_assert_not (notifier_sink_admit (sink, 250));
    cr_assert (notifier_sink_admit (sink, 500));
    cr_assert_not (notifier_sink_admit (sink, 500));
    //  an idle minute fills the bucket to its burst, no more
    cr_assert (notifier_sink_admit (sink, 60500));
    cr_assert (notifier_sink_admit (sink, 60500));
    cr_assert_not (notifier_sink_admit (sink, 60500));
    //  a clock that goes back gives nothing
    cr_assert_not (notifier_sink_admit (sink, 1000));
    //  below one a second: a burst of one
    notifier_sink_set_rate (sink, 0.5);
    cr_assert (notifier_sink_admit (sink, 100000));
    cr_assert_not (notifier_sink_admit (sink, 100000));
    cr_assert_not (notifier_sink_admit (sink, 101999));
    cr_assert (notifier_sink_admit (sink, 102000));
    //  0: unlimited again
    notifier_sink_set_rate (sink, 0);
    for (int i = 0; i < 100; i++)
        cr_assert (notifier_sink_admit (sink, 102000));
    notifier_sink_destroy (&sink);
}

Test (sinks, quiet_flag_round_trips)
{
    notifier_sink_t *sink = notifier_sink_new ("sms", "phone", NULL, s_never, NULL);
    cr_assert_not (notifier_sink_quiet (sink));
    notifier_sink_set_quiet (sink, true);
    cr_assert (notifier_sink_quiet (sink));
    notifier_sink_set_quiet (sink, false);
    cr_assert_not (notifier_sink_quiet (sink));
    //  a sink without a seen function cannot tell
    cr_assert_eq (notifier_sink_seen (sink, 1), -1);
    notifier_sink_destroy (&sink);
}
