#include "tf_config.h"
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_OPT(name, alias, def, field, help) \
    { name, alias, TF_OPT_STR, def, 0, 0, offsetof (tf_config_t, field), help }
#define INT_OPT(name, def, min, max, field, help) \
    { name, NULL, TF_OPT_INT, def, min, max, offsetof (tf_config_t, field), help }

const tf_option_t tf_options [] = {
    STR_OPT ("database-url", "DATABASE_URL", "dbname=ticketflow", database_url,
             "libpq connection string of the PostgreSQL database (also read from DATABASE_URL)"),
    STR_OPT ("log-level", NULL, "info", log_level, "debug, info, warn or error"),
    STR_OPT ("security", NULL, "curve", security,
             "curve: CURVE keys and the allow-list on every socket; off: plain sockets, every "
             "client an operator (a developer's laptop only: it warns at start)"),
    STR_OPT ("keys-dir", NULL, "", keys_dir,
             "CURVE keys and the allow-list (empty: $TICKETFLOW_HOME/var/keys; created when missing)"),
    STR_OPT ("http-tls-cert", NULL, "", http_tls_cert,
             "PEM certificate (chain) for intake's and reporting's HTTP: with http-tls-key they speak "
             "HTTPS only (empty: plain HTTP, for loopback or behind a TLS proxy)"),
    STR_OPT ("http-tls-key", NULL, "", http_tls_key, "PEM private key of http-tls-cert"),
    STR_OPT ("cert", NULL, "operator", cert,
             "the client certificate this program presents: a file from `ticketctl cert create`, "
             "or a name in keys-dir"),
    STR_OPT ("timezone", NULL, "Asia/Shanghai", timezone,
             "business time zone: the date in ticket numbers, business hours"),
    INT_OPT ("batch-size", "256", 1, 10000, batch_size,
             "most requests committed in one transaction"),
    INT_OPT ("max-message-bytes", "1048576", 1024, 67108864, max_message_bytes,
             "larger ZeroMQ messages are dropped by the transport (ZMQ_MAXMSGSIZE)"),
    INT_OPT ("reconcile-seconds", "5", 1, 3600, reconcile_seconds,
             "how often a service looks for tickets left waiting in its input status"),
    INT_OPT ("stale-seconds", "5", 0, 86400, stale_seconds,
             "how long a ticket waits in an input status before the reconciler takes it"),
    STR_OPT ("intake-endpoint", NULL, "tcp://127.0.0.1:7100", intake_endpoint,
             "intake requests (ROUTER: ticket.submit, ticket.get, ...)"),
    STR_OPT ("intake-events-endpoint", NULL, "tcp://127.0.0.1:7101", intake_events_endpoint,
             "intake publishes ticket.received here (PUSH, bound by intake)"),
    STR_OPT ("intake-feedback-endpoint", NULL, "tcp://127.0.0.1:7102", intake_feedback_endpoint,
             "intake forwards customer feedback here (PUSH, bound by intake)"),
    STR_OPT ("http-address", NULL, "127.0.0.1", http_address,
             "IPv4 address the HTTP servers listen on"),
    INT_OPT ("intake-http-port", "8080", 0, 65535, intake_http_port,
             "intake HTTP API port (0: any free port)"),
    STR_OPT ("classifier-endpoint", NULL, "tcp://127.0.0.1:7200", classifier_endpoint,
             "classifier requests (ROUTER)"),
    STR_OPT ("classifier-events-endpoint", NULL, "tcp://127.0.0.1:7201", classifier_events_endpoint,
             "classifier publishes ticket.classified here (PUSH)"),
    STR_OPT ("dispatcher-endpoint", NULL, "tcp://127.0.0.1:7301", dispatcher_endpoint,
             "dispatcher requests (ROUTER: queue.list, ticket.accept, ...)"),
    STR_OPT ("dispatcher-publish-endpoint", NULL, "tcp://127.0.0.1:7300", dispatcher_publish_endpoint,
             "dispatcher publishes ticket.assigned here (PUB, department code as topic)"),
    STR_OPT ("dispatcher-events-endpoint", NULL, "tcp://127.0.0.1:7302", dispatcher_events_endpoint,
             "dispatcher hands accepted tickets to sla here (PUSH)"),
    STR_OPT ("sla-endpoint", NULL, "tcp://127.0.0.1:7400", sla_endpoint,
             "sla requests (ROUTER: ticket.progress, ticket.hold, ...)"),
    STR_OPT ("sla-events-endpoint", NULL, "tcp://127.0.0.1:7401", sla_events_endpoint,
             "sla hands resolved tickets to notifier here (PUSH)"),
    STR_OPT ("sla-publish-endpoint", NULL, "tcp://127.0.0.1:7402", sla_publish_endpoint,
             "sla publishes sla.breached, sla.warning and sla.escalated here (PUB, topic <department>.)"),
    STR_OPT ("notifier-endpoint", NULL, "tcp://127.0.0.1:7500", notifier_endpoint,
             "notifier requests (ROUTER)"),
    STR_OPT ("notifier-events-endpoint", NULL, "tcp://127.0.0.1:7501", notifier_events_endpoint,
             "notifier hands confirmed tickets to reporting here (PUSH)"),
    STR_OPT ("notifier-reopen-endpoint", NULL, "tcp://127.0.0.1:7502", notifier_reopen_endpoint,
             "notifier hands reopened tickets back to dispatcher here (PUSH)"),
    STR_OPT ("reporting-endpoint", NULL, "tcp://127.0.0.1:7600", reporting_endpoint,
             "reporting requests (ROUTER: report.summary)"),
    INT_OPT ("reporting-http-port", "8090", 0, 65535, reporting_http_port,
             "reporting HTTP port (0: any free port)"),
    INT_OPT ("request-timeout-ms", "5000", 10, 600000, request_timeout_ms,
             "how long a client waits for a reply"),
    STR_OPT ("taxonomy-file", NULL, "", taxonomy_file,
             "taxonomy JSON loaded into the database (empty: $TICKETFLOW_HOME/deploy/taxonomy/taxonomy.json)"),
    STR_OPT ("calendar-file", NULL, "", calendar_file,
             "service hours, holidays and make-up working days loaded into the database\n"
             "(empty: $TICKETFLOW_HOME/deploy/calendar.json)"),
    STR_OPT ("classifier-model", NULL, "", classifier_model,
             "trained sub-category model (empty: $TICKETFLOW_HOME/build/models/default.model, built by make)"),
    INT_OPT ("classifier-min-confidence", "50", 0, 100, classifier_min_confidence,
             "below this confidence (percent) a ticket goes to triage for a person"),
    STR_OPT ("classifier-publish-endpoint", NULL, "tcp://127.0.0.1:7202", classifier_publish_endpoint,
             "classifier publishes incident.opened here (PUB, topic incident.)"),
    INT_OPT ("incident-threshold", "5", 2, 10000, incident_threshold,
             "this many similar tickets within the window open a mass incident"),
    INT_OPT ("incident-window-minutes", "30", 1, 10080, incident_window_minutes,
             "the window in which similar tickets count towards an incident"),
    INT_OPT ("incident-memory-tickets", "4096", 1, 1000000, incident_memory_tickets,
             "tickets per sub-category the incident check remembers until they match another"),
    INT_OPT ("incident-memory-groups", "16384", 1, 1000000, incident_memory_groups,
             "groups of similar tickets (and products) the incident check remembers"),
    INT_OPT ("sla-window-seconds", "300", 5, 86400, sla_window_seconds,
             "how far ahead the sla service loads due timers into memory"),
    INT_OPT ("escalation-step-minutes", "30", 1, 10080, escalation_step_minutes,
             "after a missed deadline the ticket goes to the team lead at once, then to the\n"
             "supervisor and the manager, each this many minutes after the step before"),
    STR_OPT ("owner-sink", NULL, "file", owner_sink,
             "the notifier sink that carries messages to staff (reminders, escalations)"),
    STR_OPT ("sms-sink", NULL, "sms", sms_sink,
             "the notifier sink for SMS to a ticket's owner (a red complaint untouched for 2 h)"),
    STR_OPT ("notifier-file", NULL, "", notifier_file,
             "file sink: every outbound message appended as a JSON line (empty: $TICKETFLOW_HOME/var/notifications.jsonl)"),
    STR_OPT ("notifier-webhook-url", NULL, "", notifier_webhook_url,
             "webhook sink: outbound messages POSTed here as JSON (empty: off)"),
    STR_OPT ("notifier-webhook-secret", NULL, "", notifier_webhook_secret,
             "signs each webhook and SMS-gateway POST: X-Ticketflow-Signature: sha256=HMAC-SHA256(secret, body)"),
    STR_OPT ("notifier-sms-url", NULL, "", notifier_sms_url,
             "an SMS gateway's HTTP endpoint: the \"sms\" sink POSTs JSON with \"to\" (the phone) there (empty: none)"),
    STR_OPT ("notifier-smtp-url", NULL, "", notifier_smtp_url,
             "the \"email\" sink's SMTP server, smtp://host:port or smtps:// (empty: none)"),
    STR_OPT ("notifier-smtp-from", NULL, "service@ticketflow.invalid", notifier_smtp_from,
             "the sender address of e-mail to customers"),
    STR_OPT ("notifier-routes", NULL, "email=email,phone=sms,*=webhook", notifier_routes,
             "which sink carries a customer message, by the ticket's channel (channel=sink,...; *: the rest); "
             "a sink that is not configured falls back to the file sink"),
    STR_OPT ("notifier-channels", NULL, "*", notifier_channels,
             "the customer channels this notifier delivers (comma-separated; *: all): instances may split them"),
    STR_OPT ("notifier-quiet-hours", NULL, "21:00-09:00", notifier_quiet_hours,
             "no message to a customer through a quiet sink (sms, webhook) in these hours of the desk's "
             "time zone unless the ticket is P1: it waits for the end (empty: never quiet)"),
    STR_OPT ("notifier-rate-limits", NULL, "", notifier_rate_limits,
             "most messages per second per sink (sink=N,...; e.g. sms=20,email=50); the rest wait a round"),
    STR_OPT ("notifier-digest-at", NULL, "17:00", notifier_digest_at,
             "when the daily digest goes to every customer with open tickets (desk time zone; empty: no digest)"),
    INT_OPT ("notifier-close-days", "3", 1, 60, notifier_close_days,
             "a resolved ticket without the customer's answer this many days closes as auto_closed"),
    INT_OPT ("notifier-lease-seconds", "60", 1, 3600, notifier_lease_seconds,
             "a claimed message is another notifier's to deliver after this long without an outcome (a crash)"),
    STR_OPT ("messages-file", NULL, "", messages_file,
             "customer message templates loaded by ticketflow-migrate "
             "(empty: $TICKETFLOW_HOME/deploy/messages.json)"),
    INT_OPT ("notifier-max-attempts", "8", 1, 100, notifier_max_attempts,
             "deliveries tried before a message is marked dead"),
    INT_OPT ("notifier-retry-seconds", "2", 1, 3600, notifier_retry_seconds,
             "first retry delay; doubles after each failed attempt"),
    INT_OPT ("intake-ops-port", "9101", -1, 65535, intake_ops_port,
             "intake's /healthz, /readyz and /metrics HTTP port (0: any free port, -1: off)"),
    INT_OPT ("classifier-ops-port", "9102", -1, 65535, classifier_ops_port,
             "classifier's /healthz, /readyz and /metrics HTTP port (0: any free port, -1: off)"),
    INT_OPT ("dispatcher-ops-port", "9103", -1, 65535, dispatcher_ops_port,
             "dispatcher's /healthz, /readyz and /metrics HTTP port (0: any free port, -1: off)"),
    INT_OPT ("sla-ops-port", "9104", -1, 65535, sla_ops_port,
             "sla's /healthz, /readyz and /metrics HTTP port (0: any free port, -1: off)"),
    INT_OPT ("notifier-ops-port", "9105", -1, 65535, notifier_ops_port,
             "notifier's /healthz, /readyz and /metrics HTTP port (0: any free port, -1: off)"),
    INT_OPT ("reporting-ops-port", "9106", -1, 65535, reporting_ops_port,
             "reporting's /healthz, /readyz and /metrics HTTP port (0: any free port, -1: off)"),
};
const size_t tf_option_count = sizeof tf_options / sizeof tf_options [0];

void
tf_config_env_name (const char *name, char *out, size_t size)
{
    size_t n = (size_t) snprintf (out, size, "TICKETFLOW_");
    for (const char *p = name; *p && n + 1 < size; p++)
        out [n++] = *p == '-'? '_': (char) toupper ((unsigned char) *p);
    out [n] = 0;
}

static const tf_option_t *
s_find (const char *name, size_t len)
{
    for (size_t i = 0; i < tf_option_count; i++)
        if (strlen (tf_options [i].name) == len && memcmp (tf_options [i].name, name, len) == 0)
            return &tf_options [i];
    return NULL;
}

const tf_option_t *
tf_config_option (const char *name)
{
    return name? s_find (name, strlen (name)): NULL;
}

const char *
tf_config_string (const tf_config_t *cfg, const char *name)
{
    const tf_option_t *opt = tf_config_option (name);
    assert (opt && opt->type == TF_OPT_STR);
    return *(const char *const *) ((const char *) cfg + opt->offset);
}

int
tf_config_number (const tf_config_t *cfg, const char *name)
{
    const tf_option_t *opt = tf_config_option (name);
    assert (opt && opt->type == TF_OPT_INT);
    return *(const int *) ((const char *) cfg + opt->offset);
}

static int
s_set (tf_config_t *cfg, const tf_option_t *opt, const char *value, const char *origin)
{
    char *slot = (char *) cfg + opt->offset;
    if (opt->type == TF_OPT_STR) {
        *(const char **) slot = value;
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol (value, &end, 10);
    if (errno || end == value || *end || v < opt->min || v > opt->max) {
        fprintf (stderr, "error: %s: '%s' must be an integer in %ld..%ld (got '%s')\n",
                 origin, opt->name, opt->min, opt->max, value);
        return -1;
    }
    *(int *) slot = (int) v;
    return 0;
}

static int
s_listed (const char *const *names, const tf_option_t *opt)
{
    for (size_t i = 0; names [i]; i++)
        if (strcmp (names [i], opt->name) == 0)
            return 1;
    return 0;
}

void
tf_config_print_help (FILE *out, const char *const *names, const char *program, const char *summary)
{
    fprintf (out, "%s\n\nSettings (flag, environment variable, default):\n", summary);
    for (size_t i = 0; names [i]; i++) {
        const tf_option_t *opt = s_find (names [i], strlen (names [i]));
        if (!opt)
            continue;
        char env [96];
        tf_config_env_name (opt->name, env, sizeof env);
        fprintf (out, "  --%s=VALUE\n      %s%s%s [default: %s]\n      %s\n", opt->name, env,
                opt->env_alias? ", ": "", opt->env_alias? opt->env_alias: "",
                opt->default_value, opt->help);
    }
    fprintf (out, "  --help\n      print this help and exit\n");
    (void) program;
}

int
tf_config_load (tf_config_t *cfg, const char *const *names, int argc, char **argv,
                const char *program, const char *summary, int *rest_argc, char **rest_argv)
{
    memset (cfg, 0, sizeof *cfg);
    for (size_t i = 0; names [i]; i++) {
        const tf_option_t *opt = s_find (names [i], strlen (names [i]));
        if (!opt) {
            fprintf (stderr, "error: %s: unknown setting '%s' in program table\n", program, names [i]);
            return -1;
        }
        char env [96];
        tf_config_env_name (opt->name, env, sizeof env);
        const char *value = getenv (env);
        const char *origin = env;
        if ((!value || !*value) && opt->env_alias) {
            value = getenv (opt->env_alias);
            origin = opt->env_alias;
        }
        if (!value || !*value) {
            value = opt->default_value;
            origin = "default";
        }
        if (s_set (cfg, opt, value, origin))
            return -1;
    }
    int rest = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            tf_config_print_help (stdout, names, program, summary);
            return 1;
        }
        if (strncmp (arg, "--", 2) != 0) {
            if (rest_argv) {
                rest_argv [rest++] = argv [i];
                continue;
            }
            fprintf (stderr, "error: %s: unexpected argument '%s' (see --help)\n", program, arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr (name, '=');
        size_t len = eq? (size_t) (eq - name): strlen (name);
        const tf_option_t *opt = s_find (name, len);
        if (!opt || !s_listed (names, opt)) {
            if (rest_argv) {
                //  a command's own flag (ticketctl): leave it for the command
                rest_argv [rest++] = argv [i];
                continue;
            }
            fprintf (stderr, "error: %s: unknown option '%s' (see --help)\n", program, arg);
            return -1;
        }
        const char *value = eq? eq + 1: NULL;
        if (!value) {
            if (i + 1 >= argc) {
                fprintf (stderr, "error: %s: option '--%s' needs a value\n", program, opt->name);
                return -1;
            }
            value = argv [++i];
        }
        if (s_set (cfg, opt, value, arg))
            return -1;
    }
    if (rest_argc)
        *rest_argc = rest;
    return 0;
}
