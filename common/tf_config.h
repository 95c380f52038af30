/*  tf_config — every setting of every ticketflow program, declared once.

    Each setting has a default, an environment variable TICKETFLOW_<NAME>
    (upper case, '-' → '_') and a flag --<name>; a program picks the
    settings it uses by name, and --help lists exactly those.
    Precedence: flag, then environment, then default.
*/
#ifndef TF_CONFIG_H
#define TF_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *database_url;
    const char *log_level;
    const char *security;
    const char *keys_dir;
    const char *cert;
    const char *timezone;
    int batch_size;
    int max_message_bytes;
    int reconcile_seconds;
    int stale_seconds;
    const char *intake_endpoint;
    const char *intake_events_endpoint;
    const char *intake_feedback_endpoint;
    const char *http_address;
    int intake_http_port;
    const char *http_tls_cert;
    const char *http_tls_key;
    const char *classifier_endpoint;
    const char *classifier_events_endpoint;
    const char *dispatcher_endpoint;
    const char *dispatcher_publish_endpoint;
    const char *dispatcher_events_endpoint;
    const char *sla_endpoint;
    const char *sla_events_endpoint;
    const char *sla_publish_endpoint;
    const char *notifier_endpoint;
    const char *notifier_events_endpoint;
    const char *notifier_reopen_endpoint;
    const char *reporting_endpoint;
    int reporting_http_port;
    int request_timeout_ms;
    const char *taxonomy_file;
    const char *calendar_file;
    const char *classifier_model;
    int classifier_min_confidence;
    const char *classifier_publish_endpoint;
    int incident_threshold;
    int incident_window_minutes;
    int incident_memory_tickets;
    int incident_memory_groups;
    int sla_window_seconds;
    int escalation_step_minutes;
    const char *owner_sink;
    const char *sms_sink;
    const char *notifier_file;
    const char *notifier_webhook_url;
    const char *notifier_webhook_secret;
    const char *notifier_sms_url;
    const char *notifier_smtp_url;
    const char *notifier_smtp_from;
    const char *notifier_routes;
    const char *notifier_channels;
    const char *notifier_quiet_hours;
    const char *notifier_rate_limits;
    const char *notifier_digest_at;
    int notifier_close_days;
    int notifier_lease_seconds;
    const char *messages_file;
    int notifier_max_attempts;
    int notifier_retry_seconds;
    int intake_ops_port;
    int classifier_ops_port;
    int dispatcher_ops_port;
    int sla_ops_port;
    int notifier_ops_port;
    int reporting_ops_port;
} tf_config_t;

typedef enum { TF_OPT_STR, TF_OPT_INT } tf_opt_type_t;

typedef struct {
    const char *name;           //  flag --name, env TICKETFLOW_NAME
    const char *env_alias;      //  also read from this variable (or NULL)
    tf_opt_type_t type;
    const char *default_value;
    long min, max;              //  TF_OPT_INT bounds
    size_t offset;              //  into tf_config_t
    const char *help;
} tf_option_t;

extern const tf_option_t tf_options [];
extern const size_t tf_option_count;

//  Fills cfg with defaults, then the environment, then argv (argv[1..]).
//  `names` is a NULL-terminated list of the settings this program accepts.
//  Positional arguments (not starting with --) are left in *rest_argv /
//  *rest_argc if those are given, else they are an error.
//  Returns 0 when the program should run, 1 when --help was printed,
//  -1 on a bad setting (the message is printed to stderr).
int tf_config_load (tf_config_t *cfg, const char *const *names, int argc, char **argv,
                    const char *program, const char *summary,
                    int *rest_argc, char **rest_argv);

//  Prints the settings of `names` in --help form to out.
void tf_config_print_help (FILE *out, const char *const *names, const char *program, const char *summary);

//  The environment variable name of a setting: TICKETFLOW_INTAKE_ENDPOINT
void tf_config_env_name (const char *name, char *out, size_t size);

//  A setting by name (NULL when there is none), and its value in cfg.
const tf_option_t *tf_config_option (const char *name);
const char *tf_config_string (const tf_config_t *cfg, const char *name);
int tf_config_number (const tf_config_t *cfg, const char *name);

#endif
