//  The confirm stage: confirmation requests in the outbox (once per
//  resolution), the file and webhook sinks, routing, retries with back-off
//  and dead letters, feedback that confirms, reopens or is ignored, the
//  reconcilers, and the actor end to end.
//
//  Tests share one database and run two at a time: the direct tests put
//  their tickets on a channel of their own that only their notifier
//  serves (s_isolate), so no other notifier delivers their rows; the actor
//  tests serve every channel, so each runs alone (tf_test_alone).
#include "intake.h"
#include "notifier.h"
#include "notifier_service.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include "tf_ticket.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (notifier, .timeout = 60);

//  --------------------------------------------------------------------------
//  Helpers

typedef struct {
    int64_t id;
    char no [40];
} ticket_t;

//  The test's own channel once s_isolate made one (each test is a process)
static char s_channel [64];

static void
s_tag (char *out, size_t size, const char *what)
{
    static int serial;
    snprintf (out, size, "%s-%s-%d", what, tf_test_unique (), ++serial);
}

//  A ticket through intake, then moved to `status` as the upstream stages would.
static ticket_t
s_ticket (tf_db_t *db, const char *status, const char *summary)
{
    intake_t *intake = intake_new (db);
    cr_assert (intake);
    char ext [128];
    s_tag (ext, sizeof ext, "notifier");
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "找不到优惠券在哪里用");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, ext);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C-notify");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_PHONE, "13812345678");
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    cr_assert (r.ok);
    ticket_t t = { .id = r.ticket_id };
    snprintf (t.no, sizeof t.no, "%s", r.ticket_no);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    char sql [512];
    snprintf (sql, sizeof sql,
              "UPDATE tickets SET status = $2, category = '产品使用', subcategory = '功能操作', priority = 'P3',"
              " department = 'frontline', assignee = 'agent-7', resolution_summary = $3, resolved_at = now (),"
              " status_changed_at = now (), channel = coalesce ($4, channel) WHERE id = $1");
    char id [24];
    snprintf (id, sizeof id, "%lld", (long long) t.id);
    const char *params [] = { id, status, summary, *s_channel? s_channel: NULL };
    PGresult *res = tf_db_query (db, sql, 4, params);
    cr_assert (tf_db_ok (db, res, "move ticket"));
    PQclear (res);
    return t;
}

static void
s_sql (tf_db_t *db, const char *sql)
{
    cr_assert_eq (tf_db_exec (db, sql), 0, "failed: %s", sql);
}

static char *
s_text (tf_db_t *db, const char *sql)
{
    PGresult *res = tf_db_query (db, sql, 0, NULL);
    cr_assert (tf_db_ok (db, res, sql));
    char *text = PQntuples (res) && !PQgetisnull (res, 0, 0)? strdup (PQgetvalue (res, 0, 0)): NULL;
    PQclear (res);
    return text;
}

static int64_t
s_feedback (tf_db_t *db, int64_t ticket_id, bool solved, const char *csat, const char *comment)
{
    char sql [512];
    snprintf (sql, sizeof sql, "INSERT INTO feedback (ticket_id, solved, csat, comment)"
                               " VALUES (%lld, %s, %s, %s%s%s) RETURNING id",
              (long long) ticket_id, solved? "true": "false", csat? csat: "NULL",
              comment? "'": "", comment? comment: "NULL", comment? "'": "");
    return tf_test_scalar (db, "%s", sql);
}

static long long
s_count (tf_db_t *db, const char *sql_fmt, long long id)
{
    char sql [512];
    snprintf (sql, sizeof sql, sql_fmt, id);
    return tf_test_scalar (db, "%s", sql);
}


//  --------------------------------------------------------------------------
//  The webhook test server is tf_test_hook_t

static notifier_sink_t *
s_webhook (tf_test_hook_t *hook, char *name, size_t size)
{
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/hook", hook->port);
    s_tag (name, size, "webhook");
    notifier_sink_t *sink = notifier_sink_webhook_new (name, url, 5000, NULL);
    cr_assert (sink);
    return sink;
}

//  --------------------------------------------------------------------------
//  Sinks on their own

Test (notifier, file_sink_appends_lines_and_creates_its_folder)
{
    char dir [256], path [300];
    snprintf (dir, sizeof dir, "/tmp/tf-notifier-%s", tf_test_unique ());
    snprintf (path, sizeof path, "%s/deep/er/out.jsonl", dir);
    notifier_sink_t *sink = notifier_sink_file_new ("file", path);
    cr_assert (sink);
    cr_assert_str_eq (notifier_sink_name (sink), "file");
    cr_assert_null (notifier_sink_contact (sink));
    char error [256];
    cr_assert_eq (notifier_sink_deliver (sink, "{\"a\": 1}", 8, error, sizeof error), 0);
    cr_assert_eq (notifier_sink_deliver (sink, "{\"b\":\n2}", 8, error, sizeof error), 0);
    char *data = tf_test_read_file (path);
    cr_assert (data);
    cr_assert_str_eq (data, "{\"a\": 1}\n{\"b\": 2}\n");
    free (data);
    notifier_sink_destroy (&sink);
    notifier_sink_destroy (&sink);          //  safe twice
    //  a path that cannot be a folder
    cr_assert_null (notifier_sink_file_new ("file", "/proc/self/no/such/out.jsonl"));
    unlink (path);
}

Test (notifier, webhook_sink_answers)
{
    char error [256];
    tf_test_hook_t *hook = tf_test_hook_new (204);
    char name [128];
    notifier_sink_t *sink = s_webhook (hook, name, sizeof name);
    cr_assert_eq (notifier_sink_deliver (sink, "{\"x\":1}", 7, error, sizeof error), 0);
    cr_assert_eq (tf_test_hook_requests (hook), 1);
    cr_assert_str_eq (hook->body, "{\"x\":1}");
    cr_assert_str_eq (hook->content_type, "application/json");
    tf_test_hook_set_status (hook, 500);
    cr_assert_eq (notifier_sink_deliver (sink, "{\"x\":2}", 7, error, sizeof error), -1);
    cr_assert_str_eq (error, "webhook: HTTP 500");
    tf_test_hook_set_status (hook, 302);
    cr_assert_eq (notifier_sink_deliver (sink, "{\"x\":3}", 7, error, sizeof error), -1);
    notifier_sink_destroy (&sink);
    tf_test_hook_destroy (&hook);
    //  nobody listening: a quick failure with a reason
    sink = notifier_sink_webhook_new ("webhook", "http://127.0.0.1:1/hook", 5000, NULL);
    int64_t start = zclock_mono ();
    cr_assert_eq (notifier_sink_deliver (sink, "{}", 2, error, sizeof error), -1);
    cr_assert (zclock_mono () - start < 3000);
    cr_assert (strncmp (error, "webhook: ", 9) == 0 && strlen (error) > 9, "error: %s", error);
    notifier_sink_destroy (&sink);
}

//  --------------------------------------------------------------------------
//  Confirmation requests

//  A notifier whose customer messages are this test's alone: its tickets
//  (s_ticket) are on a channel of their own, which it alone serves, and
//  every channel goes to `sink` (already added). No quiet hours.

static void
s_isolate (notifier_t *notifier, const char *sink)
{
    if (!*s_channel)
        snprintf (s_channel, sizeof s_channel, "t%s", tf_test_unique ());
    char routes [160];
    snprintf (routes, sizeof routes, "*=%s", sink);
    notifier_policy_t policy = { .routes = routes, .quiet_hours = "", .channels = s_channel };
    cr_assert_eq (notifier_configure (notifier, &policy), 0);
}

Test (notifier, resolved_ticket_gets_one_request_once_per_round)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    cr_assert (notifier);
    char file_name [128], path [256];
    s_tag (file_name, sizeof file_name, "file");
    snprintf (path, sizeof path, "/tmp/tf-notifier-%s/queue.jsonl", tf_test_unique ());
    cr_assert_eq (notifier_add_sink (notifier, notifier_sink_file_new (file_name, path)), 0);
    //  two sinks of one name are refused
    cr_assert_eq (notifier_add_sink (notifier, notifier_sink_file_new (file_name, path)), -1);
    cr_assert_eq (notifier_sink_count (notifier), 1);
    s_isolate (notifier, file_name);

    ticket_t t = s_ticket (db, "resolved", "已发送优惠券使用路径,客户已完成下单。");
    ticket_t other = s_ticket (db, "in_progress", "not yet");
    int64_t ids [] = { t.id, other.id, 999999999 };
    cr_assert_eq (notifier_request_confirmation (notifier, ids, 3), 1);
    long long id = (long long) t.id;
    const char *requests = "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'";
    cr_assert_eq (s_count (db, requests, id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'"
                                      " AND status = 'queued' AND attempts = 0 AND sink = 'customer'"
                                      " AND audience = 'customer' AND priority = 'P3'", id), 1);
    //  the template's text: ticket, summary, the manual's closing words, how to answer
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox o, taxonomy x"
                                      " WHERE o.ticket_id = %lld AND o.kind = 'confirm_request'"
                                      " AND x.subcategory = '功能操作'"
                                      " AND o.payload->>'ticket_no' = '%s' AND o.payload->>'customer_id' = 'C-notify'"
                                      " AND strpos (o.payload->>'message', '已发送优惠券使用路径,客户已完成下单。') > 0"
                                      " AND strpos (o.payload->>'message', x.phrases->>'closing') > 0"
                                      " AND strpos (o.payload->>'message', '%s') > 0"
                                      " AND strpos (o.payload->>'message', '1-5分') > 0"
                                      " AND NOT o.payload ? 'to' AND o.payload::text NOT LIKE '%%13812345678%%'",
                                  id, t.no, t.no), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'confirmation_requested' AND actor = 'notifier'"
                                      " AND (data->>'round')::int = 1", id), 1);
    cr_assert_eq (s_count (db, requests, (long long) other.id), 0);

    //  a repeated ticket.resolved adds nothing
    cr_assert_eq (notifier_request_confirmation (notifier, ids, 1), 0);
    cr_assert_eq (s_count (db, requests, id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'confirmation_requested'", id), 1);
    //  reopened and resolved again: a new request for the new round
    tf_test_sql (db, "UPDATE tickets SET reopen_count = 1 WHERE id = %lld", id);
    cr_assert_eq (notifier_request_confirmation (notifier, ids, 1), 1);
    cr_assert_eq (s_count (db, requests, id), 2);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'confirmation_requested' AND (data->>'round')::int = 2", id), 1);
    notifier_destroy (&notifier);
    notifier_destroy (&notifier);           //  safe twice
    tf_db_destroy (&db);
}

//  An SMS-like sink: records what it was given.
static char s_sms_seen [4096];

static int
s_sms_deliver (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    (void) state; (void) error; (void) error_size;
    snprintf (s_sms_seen, sizeof s_sms_seen, "%.*s", (int) len, json);
    return 0;
}

Test (notifier, a_sink_that_needs_the_phone_gets_it_and_no_other_does)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    char sms [128];
    s_tag (sms, sizeof sms, "sms");
    notifier_sink_t *phone_sink = notifier_sink_new (sms, "phone", NULL, s_sms_deliver, NULL);
    cr_assert_str_eq (notifier_sink_contact (phone_sink), "phone");
    cr_assert_eq (notifier_add_sink (notifier, phone_sink), 0);
    s_isolate (notifier, sms);
    ticket_t with = s_ticket (db, "resolved", "已处理");
    ticket_t without = s_ticket (db, "resolved", "已处理");
    tf_test_sql (db, "UPDATE ticket_contacts SET phone_sealed = NULL WHERE ticket_id = %lld", (long long) without.id);
    int64_t ids [] = { with.id, without.id };
    cr_assert_eq (notifier_request_confirmation (notifier, ids, 2), 2);
    //  the number is in no stored row: it is added on the way out
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id IN (%lld, %lld)"
                                      " AND payload::text LIKE '%%13812345678%%'",
                                  (long long) with.id, (long long) without.id), 0);
    tf_test_sql (db, "UPDATE outbox SET status = 'dead' WHERE ticket_id IN (%lld, %lld) AND kind = 'receipt'",
                 (long long) with.id, (long long) without.id);
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 2);
    cr_assert_eq (stats.sent, 1);
    cr_assert_eq (stats.dead, 1);
    cr_assert (strstr (s_sms_seen, "\"to\":\"13812345678\""), "sms got %s", s_sms_seen);
    //  no phone: dead at once, with the reason, and never retried
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'"
                                      " AND status = 'dead' AND attempts = 1"
                                      " AND last_error = 'the customer left no phone number'",
                                  (long long) without.id), 1);
    //  the history names the sink, never the number
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND coalesce (data::text, '') || coalesce (note, '') LIKE '%%13812345678%%'",
                                  (long long) with.id), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                                      " AND status = 'sent' AND delivered_via = '%s'", (long long) with.id, sms), 1);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

Test (notifier, reconciler_requests_what_the_event_missed)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    ticket_t lost = s_ticket (db, "resolved", "已处理");
    ticket_t fresh = s_ticket (db, "resolved", "刚处理");
    tf_test_sql (db, "UPDATE tickets SET status_changed_at = now () - interval '2 hours' WHERE id = %lld",
                 (long long) lost.id);
    const char *requests = "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'";
    cr_assert_geq (notifier_reconcile_resolved (notifier, 5400, 100), 1);
    cr_assert_eq (s_count (db, requests, (long long) lost.id), 1);
    cr_assert_eq (s_count (db, requests, (long long) fresh.id), 0);
    //  once requested, the reconciler leaves it alone
    notifier_reconcile_resolved (notifier, 5400, 100);
    cr_assert_eq (s_count (db, requests, (long long) lost.id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'confirmation_requested'", (long long) lost.id), 1);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  Delivery

Test (notifier, file_sink_delivers_the_json_line)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    char name [128], path [256];
    s_tag (name, sizeof name, "file");
    snprintf (path, sizeof path, "/tmp/tf-notifier-%s/%s.jsonl", tf_test_unique (), name);
    cr_assert_eq (notifier_add_sink (notifier, notifier_sink_file_new (name, path)), 0);
    s_isolate (notifier, name);
    ticket_t t = s_ticket (db, "resolved", "已重新发送验证码,客户电话13812345678");
    tf_test_sql (db, "UPDATE outbox SET status = 'dead' WHERE ticket_id = %lld", (long long) t.id);
    cr_assert_eq (notifier_request_confirmation (notifier, &t.id, 1), 1);
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 1);
    cr_assert_eq (stats.sent, 1);
    cr_assert_eq (stats.retried + stats.dead + stats.deferred + stats.quiet, 0);
    long long outbox_id = tf_test_scalar (db, "SELECT id FROM outbox WHERE ticket_id = %lld AND delivered_via = '%s'"
                                              " AND status = 'sent' AND sent_at IS NOT NULL AND attempts = 1"
                                              " AND last_error IS NULL AND claimed_at IS NULL", (long long) t.id, name);
    cr_assert_gt (outbox_id, 0);
    //  the row is the record: no history row per message
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind LIKE 'notification%%'", (long long) t.id), 0);
    //  one line, the payload with its message id, the text masked on the way out
    char *data = tf_test_read_file (path);
    cr_assert (data);
    char *newline = strchr (data, '\n');
    cr_assert (newline && newline [1] == 0, "exactly one line expected: %s", data);
    json_error_t jerr;
    json_t *line = json_loads (data, 0, &jerr);
    cr_assert (line, "not JSON: %s", jerr.text);
    cr_assert_str_eq (json_string_value (json_object_get (line, "ticket_no")), t.no);
    cr_assert_str_eq (json_string_value (json_object_get (line, "kind")), "confirm_request");
    cr_assert_eq (json_integer_value (json_object_get (line, "message_id")), outbox_id);
    const char *message = json_string_value (json_object_get (line, "message"));
    cr_assert (strstr (message, "已重新发送验证码"));
    cr_assert (strstr (message, "138****5678") && !strstr (data, "13812345678"), "not masked: %s", data);
    cr_assert (json_is_string (json_object_get (line, "subject")));
    json_decref (line);
    free (data);
    //  nothing more is due
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 0);
    unlink (path);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

Test (notifier, webhook_delivery_marks_sent)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    tf_test_hook_t *hook = tf_test_hook_new (200);
    char name [128];
    cr_assert_eq (notifier_add_sink (notifier, s_webhook (hook, name, sizeof name)), 0);
    s_isolate (notifier, name);
    ticket_t t = s_ticket (db, "resolved", "退款已原路退回");
    tf_test_sql (db, "UPDATE outbox SET status = 'dead' WHERE ticket_id = %lld", (long long) t.id);
    cr_assert_eq (notifier_request_confirmation (notifier, &t.id, 1), 1);
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 1);
    cr_assert_eq (stats.sent, 1);
    cr_assert_eq (tf_test_hook_requests (hook), 1);
    cr_assert_str_eq (hook->content_type, "application/json");
    json_t *body = json_loads (hook->body, 0, NULL);
    cr_assert (body, "not JSON: %s", hook->body);
    cr_assert_str_eq (json_string_value (json_object_get (body, "ticket_no")), t.no);
    cr_assert_str_eq (json_string_value (json_object_get (body, "customer_id")), "C-notify");
    json_decref (body);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND delivered_via = '%s'"
                                      " AND status = 'sent' AND attempts = 1 AND sent_at IS NOT NULL",
                                  (long long) t.id, name), 1);
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 0);
    cr_assert_eq (tf_test_hook_requests (hook), 1);
    tf_test_hook_destroy (&hook);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  Seconds from now to the confirmation request's next attempt.
static double
s_wait_left (tf_db_t *db, long long ticket_id)
{
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT extract (epoch FROM next_attempt_at - now ()) FROM outbox"
                               " WHERE ticket_id = %lld AND kind = 'confirm_request'", ticket_id);
    char *text = s_text (db, sql);
    cr_assert (text);
    double left = atof (text);
    free (text);
    return left;
}

Test (notifier, webhook_failure_retries_with_back_off_then_dead, .timeout = 30)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    tf_test_hook_t *hook = tf_test_hook_new (500);
    char name [128];
    cr_assert_eq (notifier_add_sink (notifier, s_webhook (hook, name, sizeof name)), 0);
    s_isolate (notifier, name);
    ticket_t t = s_ticket (db, "resolved", "已补发配件");
    long long id = (long long) t.id;
    tf_test_sql (db, "UPDATE outbox SET status = 'dead' WHERE ticket_id = %lld", id);
    cr_assert_eq (notifier_request_confirmation (notifier, &t.id, 1), 1);
    notifier_delivery_t stats;

    //  attempt 1 fails: the state says so; retry in 1 s
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 1);
    cr_assert_eq (stats.retried, 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'"
                                      " AND status = 'failed' AND attempts = 1 AND last_error = 'webhook: HTTP 500'"
                                      " AND sent_at IS NULL AND delivered_via = '%s'", id, name), 1);
    double first = s_wait_left (db, id);
    cr_assert (first > 0.3 && first <= 1.05, "first retry in %.2f s", first);
    //  not due yet
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 0);
    cr_assert_eq (tf_test_hook_requests (hook), 1);

    //  attempt 2 fails: retry in 2 s
    zclock_sleep ((int) (first * 1000) + 150);
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 1);
    cr_assert_eq (stats.retried, 1);
    double second = s_wait_left (db, id);
    cr_assert (second > 1.3 && second <= 2.05, "second retry in %.2f s", second);
    cr_assert_gt (second, first);
    cr_assert_eq (tf_test_scalar (db, "SELECT attempts FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'"
                                      " AND status = 'failed'", id), 2);

    //  attempt 3 of 3 fails: dead, and the history says so
    zclock_sleep ((int) (second * 1000) + 150);
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 1);
    cr_assert_eq (stats.dead, 1);
    cr_assert_eq (tf_test_hook_requests (hook), 3);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'"
                                      " AND status = 'dead' AND attempts = 3 AND last_error = 'webhook: HTTP 500'",
                                  id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'notification_dead' AND note = 'webhook: HTTP 500'", id), 1);
    //  the dead stay dead, even once their next attempt would be due
    tf_test_sql (db, "UPDATE outbox SET next_attempt_at = now () - interval '1 minute' WHERE ticket_id = %lld", id);
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 0);
    cr_assert_eq (tf_test_hook_requests (hook), 3);
    tf_test_hook_destroy (&hook);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  Feedback, called directly

Test (notifier, feedback_on_a_ticket_no_longer_resolved_is_ignored)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    ticket_t t = s_ticket (db, "resolved", "已处理");
    long long id = (long long) t.id;
    //  sla waits for the customer to be reached within an hour of the fix
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", id);
    PGresult *res = tf_db_query (db, "INSERT INTO sla_timers (ticket_id, kind, due_at)"
                                     " VALUES ($1, 'verification', tf_now () + interval '1 hour')", 1,
                                 (const char *[]) { id_text });
    cr_assert (tf_db_ok (db, res, "verification clock"));
    PQclear (res);
    //  the first answer confirms; the second, later one changes nothing
    int64_t yes = s_feedback (db, t.id, true, "5", NULL);
    int64_t no = s_feedback (db, t.id, false, "1", "还是不行");
    notifier_feedback_t results [8];
    cr_assert_eq (notifier_process_feedback (notifier, &t.id, 1, results, 8), 2);
    cr_assert_eq (results [0].feedback_id, yes);
    cr_assert_eq (results [0].outcome, NOTIFIER_CONFIRMED);
    cr_assert_str_eq (results [0].ticket_no, t.no);
    cr_assert_eq (results [1].feedback_id, no);
    cr_assert_eq (results [1].outcome, NOTIFIER_IGNORED);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'confirmed'"
                                      " AND csat = 5 AND reopen_count = 0 AND confirmed_at IS NOT NULL", id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM feedback WHERE id = %lld AND outcome = 'ignored'"
                                      " AND processed_at IS NOT NULL", (long long) no), 1);
    //  the answer reached the customer: the verification clock is met
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind = 'verification' AND met_at IS NOT NULL", id), 1);
    long long events = tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld", id);

    //  a feedback on the confirmed ticket: ignored, nothing else changes
    int64_t late = s_feedback (db, t.id, false, "2", "再投诉");
    cr_assert_eq (notifier_process_feedback (notifier, &t.id, 1, results, 8), 1);
    cr_assert_eq (results [0].outcome, NOTIFIER_IGNORED);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM feedback WHERE id = %lld AND outcome = 'ignored'"
                                      " AND processed_at IS NOT NULL", (long long) late), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'confirmed'"
                                      " AND csat = 5 AND reopen_count = 0", id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld", id), events);
    //  processed feedback is not taken twice
    cr_assert_eq (notifier_process_feedback (notifier, &t.id, 1, results, 8), 0);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

Test (notifier, reconciler_takes_feedback_whose_event_was_lost)
{
    tf_db_t *db = tf_test_db ();
    notifier_t *notifier = notifier_new (db, 3, 1);
    ticket_t t = s_ticket (db, "resolved", "已处理");
    int64_t fb = s_feedback (db, t.id, false, NULL, NULL);
    char sql [256];
    snprintf (sql, sizeof sql, "UPDATE feedback SET received_at = now () - interval '2 hours' WHERE id = %lld",
              (long long) fb);
    s_sql (db, sql);
    notifier_feedback_t results [64];
    int n = notifier_reconcile_feedback (notifier, 5400, results, 64);
    cr_assert_geq (n, 1);
    bool found = false;
    for (int i = 0; i < n; i++)
        if (results [i].feedback_id == fb) {
            found = true;
            cr_assert_eq (results [i].outcome, NOTIFIER_REOPENED);
        }
    cr_assert (found);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'reopened'"
                                      " AND reopen_count = 1 AND csat IS NULL", (long long) t.id), 1);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The actor end to end

static zmsg_t *
s_recv_within (zsock_t *sock, int ms)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    zmsg_t *msg = zpoller_wait (poller, ms) == sock? zmsg_recv (sock): NULL;
    zpoller_destroy (&poller);
    return msg;
}

//  Waits for a {ticket_id, ticket_no} event of `type` about ticket id.
static void
s_expect_event (zsock_t *pull, const char *type, int64_t id)
{
    int64_t deadline = zclock_mono () + 8000;
    while (zclock_mono () < deadline) {
        zmsg_t *msg = s_recv_within (pull, 500);
        if (!msg)
            continue;
        cr_assert_eq (zmsg_size (msg), 2);
        zframe_t *t = zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        tf_msg_t event;
        tf_error_t err;
        cr_assert_eq (tf_codec_decode (zframe_data (t), zframe_size (t), zframe_data (body), zframe_size (body),
                                       &event, &err), 0);
        cr_assert_str_eq (tf_schemas [event.type].name, type);
        int64_t got = -1;
        for (int f = 0; f < TF_FIELD_COUNT; f++)
            if (tf_fields [f].schema == event.type && streq (tf_fields [f].key, "ticket_id"))
                got = tf_msg_int (&event, (tf_field_id_t) f);
        zmsg_destroy (&msg);
        if (got == id)
            return;
    }
    cr_assert_fail ("no %s for ticket %lld", type, (long long) id);
}

static long long
s_wait_scalar (tf_db_t *db, long long want, const char *sql)
{
    return tf_test_wait_scalar (db, want, 8000, "%s", sql);
}

Test (notifier, actor_end_to_end, .timeout = 60)
{
    tf_test_alone ();           //  another notifier actor would deliver this one's 'file' rows to its own file
    tf_db_t *db = tf_test_db ();
    tf_config_t cfg;
    tf_test_config (&cfg);
    //  the upstream PUSH sockets the actor's PULL connects to
    zsock_t *sla = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    zsock_t *intake = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (sla && intake);
    char sla_ep [256], intake_ep [256], path [256];
    snprintf (sla_ep, sizeof sla_ep, "%s", zsock_endpoint (sla));
    snprintf (intake_ep, sizeof intake_ep, "%s", zsock_endpoint (intake));
    snprintf (path, sizeof path, "/tmp/tf-notifier-%s/actor.jsonl", tf_test_unique ());
    cfg.sla_events_endpoint = sla_ep;
    cfg.intake_feedback_endpoint = intake_ep;
    cfg.notifier_file = path;
    cfg.stale_seconds = 86400;          //  the reconciler must not take other tests' rows
    cfg.notifier_webhook_url = "";
    char *endpoint;
    zactor_t *actor = tf_test_service (&notifier_service, &cfg, "ENDPOINT", &endpoint);
    char *events_ep = tf_actor_query (actor, "EVENTS");
    char *reopen_ep = tf_actor_query (actor, "REOPEN");
    cr_assert (events_ep && *events_ep && reopen_ep && *reopen_ep);
    zsock_t *confirmed = tf_test_pull (events_ep);
    zsock_t *reopened = tf_test_pull (reopen_ep);

    //  requests: ping answered, anything else refused, garbage too
    tf_msg_t req, reply;
    zmsg_t *frames;
    tf_error_t err;
    tf_msg_init (&req, TF_MSG_PING);
    cr_assert_eq (tf_net_request (endpoint, &req, 5000, &frames, &reply, &err), 0);
    cr_assert_eq (reply.type, TF_MSG_PONG);
    zmsg_destroy (&frames);
    tf_msg_init (&req, TF_MSG_GET);
    tf_msg_set_cstr (&req, TF_F_GET_TICKET_NO, "CS202601010001");
    cr_assert_eq (tf_net_request (endpoint, &req, 5000, &frames, &reply, &err), 0);
    cr_assert_eq (reply.type, TF_MSG_ERROR);
    cr_assert (reply.v [TF_F_ERROR_CODE].len == strlen (TF_ERR_UNKNOWN_TYPE)
               && memcmp (reply.v [TF_F_ERROR_CODE].str, TF_ERR_UNKNOWN_TYPE, strlen (TF_ERR_UNKNOWN_TYPE)) == 0);
    zmsg_destroy (&frames);
    tf_msg_clear (&req);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, endpoint, 1 << 20);
    zmsg_t *bad = zmsg_new ();
    zmsg_addmem (bad, "", 0);
    zmsg_addstr (bad, "service.ping");
    zmsg_addmem (bad, "\xc1", 1);
    cr_assert_eq (zmsg_send (&bad, dealer), 0);
    zmsg_t *answer = s_recv_within (dealer, 5000);
    cr_assert (answer && zmsg_size (answer) == 3);
    zmsg_first (answer);
    cr_assert (zframe_streq (zmsg_next (answer), "error"));
    zmsg_destroy (&answer);
    zsock_destroy (&dealer);

    //  garbage on the event path is dropped, the next event still counts
    zmsg_t *junk = zmsg_new ();
    zmsg_addstr (junk, "ticket.resolved");
    zmsg_addmem (junk, "\x80", 1);
    zmsg_send (&junk, sla);

    //  ticket.resolved → a request in the outbox, delivered to the file
    ticket_t t = s_ticket (db, "resolved", "已指导客户完成操作");
    cr_assert_eq (tf_net_send_ticket_event (sla, TF_MSG_RESOLVED, t.id, t.no), 0);
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND delivered_via = 'file'"
                               " AND kind = 'confirm_request' AND status = 'sent'", (long long) t.id);
    cr_assert_eq (s_wait_scalar (db, 1, sql), 1);
    const char *requests = "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'confirm_request'";
    cr_assert_eq (s_count (db, requests, (long long) t.id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'confirmation_requested'", (long long) t.id), 1);
    char *data = tf_test_read_file (path);
    cr_assert (data && strstr (data, t.no), "the file sink did not write %s", t.no);
    free (data);
    //  the same event again: nothing new, once it was handled
    cr_assert_eq (tf_net_send_ticket_event (sla, TF_MSG_RESOLVED, t.id, t.no), 0);
    cr_assert_eq (tf_test_wait_handled (actor, "ticketflow_messages_received_total"
                                        "{service=\"notifier\",type=\"ticket.resolved\"}", 2, 5000), 2);
    cr_assert_eq (s_count (db, requests, (long long) t.id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'confirmation_requested'", (long long) t.id), 1);

    //  the customer says solved, 4 points → confirmed, ticket.confirmed for reporting
    s_feedback (db, t.id, true, "4", NULL);
    cr_assert_eq (tf_net_send_ticket_event (intake, TF_MSG_FEEDBACK_RECEIVED, t.id, t.no), 0);
    s_expect_event (confirmed, "ticket.confirmed", t.id);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'confirmed'"
                                      " AND csat = 4 AND confirmed_at IS NOT NULL", (long long) t.id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'confirmed'"
                                      " AND from_status = 'resolved' AND to_status = 'confirmed'", (long long) t.id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM feedback WHERE ticket_id = %lld AND outcome = 'confirmed'"
                                      " AND processed_at IS NOT NULL", (long long) t.id), 1);
    cr_assert_eq (s_count (db, requests, (long long) t.id), 1);
    //  4 points: the customer is tagged satisfied; the follow-up call and survey are queued
    cr_assert_eq (s_count (db, "SELECT count(*) FROM tickets WHERE id = %lld AND '满意' = ANY (tags)", (long long) t.id), 1);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM followups WHERE ticket_id = %lld AND kind = 'call'"
                               " AND assignee = 'agent-7' AND done_at IS NULL", (long long) t.id), 1);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'survey'"
                               " AND next_attempt_at > now () + interval '20 hours'", (long long) t.id), 1);

    //  another says not solved → reopened, ticket.reopened for the dispatcher
    ticket_t u = s_ticket (db, "resolved", "已重置密码");
    s_feedback (db, u.id, false, "2", "还是登录不了,电话13812345678");
    cr_assert_eq (tf_net_send_ticket_event (intake, TF_MSG_FEEDBACK_RECEIVED, u.id, u.no), 0);
    s_expect_event (reopened, "ticket.reopened", u.id);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'reopened'"
                                      " AND reopen_count = 1 AND csat IS NULL AND assignee = 'agent-7'"
                                      " AND department = 'frontline'", (long long) u.id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'reopened'"
                                      " AND from_status = 'resolved' AND to_status = 'reopened'"
                                      " AND note LIKE '%%138****5678%%' AND note NOT LIKE '%%13812345678%%'",
                                  (long long) u.id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM feedback WHERE ticket_id = %lld AND outcome = 'reopened'",
                                  (long long) u.id), 1);
    //  no confirmed event for it: one went out in all, for t (an event is
    //  sent before the loop goes round for the metrics)
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_sent_total"
                                  "{service=\"notifier\",type=\"ticket.confirmed\"}"), 1);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_sent_total"
                                  "{service=\"notifier\",type=\"ticket.reopened\"}"), 1);

    zsock_destroy (&confirmed);
    zsock_destroy (&reopened);
    zstr_free (&events_ep);
    zstr_free (&reopen_ep);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
    zsock_destroy (&sla);
    zsock_destroy (&intake);
    unlink (path);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The reconciler and the outbox worker on their own, through the actor:
//  the inputs point where nothing binds, so no event can arrive

typedef struct {
    tf_config_t cfg;
    char path [256];
    zactor_t *actor;
    zsock_t *confirmed, *reopened;      //  the reporting's and the dispatcher's side
} alone_t;

static void
s_alone_start (alone_t *self, const char *file)
{
    memset (self, 0, sizeof *self);
    tf_test_config (&self->cfg);
    self->cfg.sla_events_endpoint = tf_test_nowhere ();
    self->cfg.intake_feedback_endpoint = tf_test_nowhere ();
    self->cfg.stale_seconds = 0;
    self->cfg.reconcile_seconds = 1;
    self->cfg.notifier_webhook_url = "";
    snprintf (self->path, sizeof self->path, "/tmp/tf-notifier-%s/%s.jsonl", tf_test_unique (), file);
    self->cfg.notifier_file = self->path;
    self->actor = tf_test_service (&notifier_service, &self->cfg, "ENDPOINT", NULL);
    char *events = tf_actor_query (self->actor, "EVENTS");
    char *reopen = tf_actor_query (self->actor, "REOPEN");
    cr_assert (events && *events && reopen && *reopen);
    self->confirmed = tf_test_pull (events);
    self->reopened = tf_test_pull (reopen);
    zstr_free (&events);
    zstr_free (&reopen);
}

static void
s_alone_stop (alone_t *self)
{
    zsock_destroy (&self->confirmed);
    zsock_destroy (&self->reopened);
    zactor_destroy (&self->actor);
    unlink (self->path);
    *strrchr (self->path, '/') = 0;
    rmdir (self->path);
}


Test (notifier, the_reconciler_alone_asks_for_confirmation_and_the_worker_delivers_it)
{
    tf_test_alone ();           //  stale-seconds 0: it asks about every resolved ticket there is
    tf_db_t *db = tf_test_db ();
    alone_t a;
    s_alone_start (&a, "alone-resolved");
    const char *reconciled = "ticketflow_reconciled_total{service=\"notifier\"}";
    //  resolved, and its ticket.resolved was lost
    ticket_t t = s_ticket (db, "resolved", "已补发配件");
    const char *sent = "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND delivered_via = 'file'"
                       " AND kind = 'confirm_request' AND status = 'sent' AND attempts = 1";
    char sql [512];
    snprintf (sql, sizeof sql, sent, (long long) t.id);
    cr_assert_eq (s_wait_scalar (db, 1, sql), 1, "not asked, or not delivered");
    cr_assert_geq (tf_test_wait_handled (a.actor, reconciled, 1, 5000), 1);
    cr_assert_eq (tf_test_metric (a.actor, "ticketflow_messages_received_total"
                                  "{service=\"notifier\",type=\"ticket.resolved\"}"), 0);
    char *data = tf_test_read_file (a.path);
    cr_assert (data && strstr (data, t.no), "the file sink did not write %s", t.no);
    free (data);
    //  a later round asks about a later ticket, and not again about the first
    ticket_t later = s_ticket (db, "resolved", "已退款");
    snprintf (sql, sizeof sql, sent, (long long) later.id);
    cr_assert_eq (s_wait_scalar (db, 1, sql), 1, "no later reconciler round");
    cr_assert_geq (tf_test_wait_handled (a.actor, reconciled, 2, 5000), 2);
    for (int i = 0; i < 2; i++) {
        long long id = (long long) (i? later.id: t.id);
        cr_assert_eq (s_count (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                                   " AND kind = 'confirm_request'", id), 1);
        cr_assert_eq (s_count (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                   " AND kind = 'confirmation_requested' AND actor = 'notifier'", id), 1);
        cr_assert_eq (s_count (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                                   " AND kind = 'confirm_request' AND status = 'sent' AND attempts = 1", id), 1);
    }
    s_alone_stop (&a);
    tf_db_destroy (&db);
}

Test (notifier, the_reconciler_alone_confirms_and_reopens_from_stored_feedback)
{
    tf_test_alone ();           //  stale-seconds 0: it takes every unprocessed feedback there is
    tf_db_t *db = tf_test_db ();
    alone_t a;
    s_alone_start (&a, "alone-feedback");
    //  the customers' answers are stored; their ticket.feedback_received were lost
    ticket_t yes = s_ticket (db, "resolved", "已指导操作");
    ticket_t no = s_ticket (db, "resolved", "已重置密码");
    s_feedback (db, yes.id, true, "5", NULL);
    s_feedback (db, no.id, false, "2", "还是不行");
    s_expect_event (a.confirmed, "ticket.confirmed", yes.id);
    s_expect_event (a.reopened, "ticket.reopened", no.id);
    cr_assert_geq (tf_test_wait_handled (a.actor, "ticketflow_reconciled_total{service=\"notifier\"}", 1, 5000), 1);
    cr_assert_eq (tf_test_metric (a.actor, "ticketflow_messages_received_total"
                                  "{service=\"notifier\",type=\"ticket.feedback_received\"}"), 0);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'confirmed'"
                               " AND csat = 5 AND confirmed_at IS NOT NULL", (long long) yes.id), 1);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'reopened'"
                               " AND reopen_count = 1", (long long) no.id), 1);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM feedback WHERE ticket_id = %lld AND outcome = 'confirmed'"
                               " AND processed_at IS NOT NULL", (long long) yes.id), 1);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM feedback WHERE ticket_id = %lld AND outcome = 'reopened'"
                               " AND processed_at IS NOT NULL", (long long) no.id), 1);
    //  a later answer on the confirmed ticket is taken by a later round and
    //  ignored; the first answers are not taken again
    s_feedback (db, yes.id, false, "1", "又坏了");
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM feedback WHERE ticket_id = %lld AND outcome = 'ignored'",
              (long long) yes.id);
    cr_assert_eq (s_wait_scalar (db, 1, sql), 1, "no later reconciler round");
    cr_assert_eq (s_count (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'confirmed'",
                           (long long) yes.id), 1);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'reopened'",
                           (long long) no.id), 1);
    cr_assert_eq (s_count (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'confirmed'",
                           (long long) yes.id), 1);
    s_alone_stop (&a);
    tf_db_destroy (&db);
}

//  The outbox worker through the actor: a webhook that fails once is tried
//  again after retry-seconds, by the actor's own timer
Test (notifier, the_worker_retries_a_failed_delivery_by_itself)
{
    tf_test_alone ();           //  the actor delivers every 'file' row there is
    tf_db_t *db = tf_test_db ();
    tf_test_hook_t *hook = tf_test_hook_new (500);
    char url [128], path [256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/hook", hook->port);
    snprintf (path, sizeof path, "/tmp/tf-notifier-%s/retry.jsonl", tf_test_unique ());
    tf_config_t cfg;
    tf_test_config (&cfg);
    zsock_t *sla = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (sla);
    zsock_set_sndtimeo (sla, 5000);         //  a send waits for the actor's PULL
    char sla_ep [256];
    snprintf (sla_ep, sizeof sla_ep, "%s", zsock_endpoint (sla));
    cfg.sla_events_endpoint = sla_ep;
    cfg.intake_feedback_endpoint = tf_test_nowhere ();
    cfg.stale_seconds = 86400;              //  only the ticket announced below
    cfg.notifier_webhook_url = url;
    cfg.notifier_file = path;
    cfg.notifier_retry_seconds = 1;
    cfg.notifier_max_attempts = 5;
    cfg.notifier_quiet_hours = "";          //  a webhook is quiet at night
    //  the ticket's receipt is not this test's business
    ticket_t t = s_ticket (db, "resolved", "已更换新品");
    tf_test_sql (db, "UPDATE outbox SET status = 'dead' WHERE ticket_id = %lld", (long long) t.id);
    zactor_t *actor = tf_test_service (&notifier_service, &cfg, "ENDPOINT", NULL);
    cr_assert_eq (tf_net_send_ticket_event (sla, TF_MSG_RESOLVED, t.id, t.no), 0);
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND delivered_via = 'webhook'"
                               " AND status = 'failed' AND attempts = 1 AND last_error = 'webhook: HTTP 500'",
              (long long) t.id);
    cr_assert_eq (s_wait_scalar (db, 1, sql), 1, "the first delivery was not tried");
    long long retry_at = s_count (db, "SELECT (extract (epoch FROM next_attempt_at) * 1000)::int8 FROM outbox"
                                      " WHERE ticket_id = %lld AND kind = 'confirm_request'", (long long) t.id);
    tf_test_hook_set_status (hook, 200);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND delivered_via = 'webhook'"
                               " AND status = 'sent' AND attempts = 2 AND sent_at IS NOT NULL", (long long) t.id);
    cr_assert_eq (s_wait_scalar (db, 1, sql), 1, "the worker did not try again");
    //  the retry came after its back-off, and once
    cr_assert_geq (s_count (db, "SELECT (extract (epoch FROM sent_at) * 1000)::int8 FROM outbox"
                                " WHERE ticket_id = %lld AND kind = 'confirm_request'", (long long) t.id), retry_at);
    cr_assert_eq (tf_test_hook_requests (hook), 2);
    //  one message, to the sink its channel routes to: not the file as well
    cr_assert_eq (s_count (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                               " AND status = 'sent'", (long long) t.id), 1);
    zactor_destroy (&actor);
    zsock_destroy (&sla);
    tf_test_hook_destroy (&hook);
    unlink (path);
    *strrchr (path, '/') = 0;
    rmdir (path);
    tf_db_destroy (&db);
}
