//  What goes out and when: quiet hours, rate limits, a notifier killed in
//  the middle of a batch (no message lost, none written twice), the daily
//  digest (one message per customer), closing without confirmation against
//  confirmed and reopened, the follow-up call and the survey, the review of
//  a low score, and every customer message masked on its way out.
//
//  Each test's tickets are on a channel of its own that only its notifier
//  serves, and the clock moves on the test's own connection.
#include "intake.h"
#include "notifier.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite (outbox, .timeout = 60);

static char s_channel [64];

static void
s_clock (tf_db_t *db, const char *at)
{
    tf_test_sql (db, "SELECT set_config ('ticketflow.clock_shift',"
                     " extract (epoch FROM '%s'::timestamptz - now ())::text, false)", at);
}

//  A ticket of this test's channel in `status`, with the given priority,
//  for `customer` (NULL: a customer of its own); its receipt is dropped.
static int64_t
s_ticket (tf_db_t *db, const char *customer, const char *status, const char *priority, char *ticket_no)
{
    if (!*s_channel)
        snprintf (s_channel, sizeof s_channel, "t%s", tf_test_unique ());
    char own [64];
    snprintf (own, sizeof own, "c-%s", tf_test_unique ());
    int64_t id = tf_test_submit (db, customer? customer: own, "发票下载不了,电话13812345678", NULL, ticket_no);
    tf_test_sql (db, "UPDATE tickets SET status = '%s', channel = '%s', priority = '%s', category = '产品使用',"
                     " subcategory = '功能操作', department = 'frontline', assignee = '王芳',"
                     " resolution_summary = '已重新开具', resolved_at = tf_now (), status_changed_at = tf_now ()"
                     " WHERE id = %lld", status, s_channel, priority, (long long) id);
    tf_test_sql (db, "DELETE FROM outbox WHERE ticket_id = %lld", (long long) id);
    return id;
}

//  Queues a customer message of `kind` for ticket id with its variables
static long long
s_queue (tf_db_t *db, const char *kind, int64_t id, const char *vars)
{
    static int serial;
    return tf_test_scalar (db, "SELECT outbox_id FROM tf_customer_messages ('%s', ARRAY [%lld::int8],"
                               " ARRAY ['%s'::jsonb], ARRAY ['%s-%d'])", kind, (long long) id, vars,
                           tf_test_unique (), ++serial);
}

//  A sink that keeps what it is given, and may be quiet
typedef struct {
    int count;
    char last [8192];
} kept_t;

static int
s_keep (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    (void) error; (void) error_size;
    kept_t *kept = state;
    kept->count++;
    snprintf (kept->last, sizeof kept->last, "%.*s", (int) len, json);
    return 0;
}

static notifier_t *
s_notifier (tf_db_t *db, notifier_sink_t *sink, const char *quiet_hours)
{
    notifier_t *notifier = notifier_new (db, 2, 1);
    cr_assert (notifier);
    cr_assert_eq (notifier_add_sink (notifier, sink), 0);
    if (!*s_channel)
        snprintf (s_channel, sizeof s_channel, "t%s", tf_test_unique ());
    char routes [160];
    snprintf (routes, sizeof routes, "*=%s", notifier_sink_name (sink));
    notifier_policy_t policy = { .routes = routes, .quiet_hours = quiet_hours, .channels = s_channel,
                                 .lease_seconds = 1 };
    cr_assert_eq (notifier_configure (notifier, &policy), 0);
    return notifier;
}

Test (outbox, quiet_hours_hold_a_customer_s_sms_until_morning_unless_p1)
{
    tf_db_t *db = tf_test_db ();
    kept_t kept = { 0 };
    notifier_sink_t *sms = notifier_sink_new ("quiet-sms", NULL, &kept, s_keep, NULL);
    notifier_sink_set_quiet (sms, true);
    notifier_t *notifier = s_notifier (db, sms, "21:00-09:00");
    s_clock (db, "2026-12-02 22:30:00+08");
    int64_t p1 = s_ticket (db, NULL, "in_progress", "P1", NULL);
    int64_t p3 = s_ticket (db, NULL, "in_progress", "P3", NULL);
    long long urgent = s_queue (db, "reply", p1, "{\"text\": \"已紧急处理\"}");
    long long later = s_queue (db, "reply", p3, "{\"text\": \"明天处理\"}");
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 2);
    cr_assert_eq (stats.sent, 1);
    cr_assert_eq (stats.quiet, 1);
    cr_assert_eq (kept.count, 1);
    cr_assert (strstr (kept.last, "已紧急处理"));
    //  held untried until 09:00, still queued
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE id = %lld AND status = 'queued'"
                                      " AND attempts = 0 AND claimed_at IS NULL"
                                      " AND next_attempt_at = '2026-12-03 09:00:00+08'", later), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE id = %lld AND status = 'sent'", urgent), 1);
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 0);
    //  a sink that is not quiet (e-mail, the file) is not held
    s_clock (db, "2026-12-03 08:59:00+08");
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 0);
    s_clock (db, "2026-12-03 09:00:30+08");
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 1);
    cr_assert_eq (stats.sent, 1);
    cr_assert (strstr (kept.last, "明天处理"));
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

Test (outbox, a_sink_s_rate_limit_spreads_its_messages)
{
    tf_db_t *db = tf_test_db ();
    kept_t kept = { 0 };
    notifier_sink_t *slow = notifier_sink_new ("rate-limited", NULL, &kept, s_keep, NULL);
    notifier_t *notifier = s_notifier (db, slow, "");
    notifier_policy_t policy = { .routes = "*=rate-limited", .channels = s_channel, .rate_limits = "rate-limited=2" };
    cr_assert_eq (notifier_configure (notifier, &policy), 0);
    int64_t id = s_ticket (db, NULL, "in_progress", "P3", NULL);
    for (int i = 0; i < 5; i++)
        s_queue (db, "reply", id, "{\"text\": \"第几条\"}");
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 5);
    cr_assert_eq (stats.sent, 2);
    cr_assert_eq (stats.deferred, 3);
    //  the deferred wait untried for the next round
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND status = 'queued'"
                                      " AND attempts = 0", (long long) id), 3);
    zclock_sleep (1100);
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 3);
    cr_assert_eq (stats.sent, 2);
    cr_assert_eq (kept.count, 4);
    //  a bad setting is refused
    notifier_policy_t bad = { .rate_limits = "rate-limited=fast" };
    cr_assert_eq (notifier_configure (notifier, &bad), -1);
    notifier_policy_t bad_quiet = { .quiet_hours = "21-9" };
    cr_assert_eq (notifier_configure (notifier, &bad_quiet), -1);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  The file sink, killed (like kill -9) right after its `crash_after`th write
typedef struct {
    notifier_sink_t *file;
    int writes, crash_after;
} crashing_t;

static int
s_crashing_deliver (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    crashing_t *self = state;
    int rc = notifier_sink_deliver (self->file, json, len, error, error_size);
    if (++self->writes == self->crash_after)
        _exit (9);
    return rc;
}

Test (outbox, a_notifier_killed_mid_batch_loses_nothing_and_repeats_nothing)
{
    tf_db_t *db = tf_test_db ();
    char path [256];
    snprintf (path, sizeof path, "/tmp/tf-outbox-%s/crash.jsonl", tf_test_unique ());
    if (!*s_channel)
        snprintf (s_channel, sizeof s_channel, "t%s", tf_test_unique ());
    int64_t id = s_ticket (db, NULL, "in_progress", "P3", NULL);
    for (int i = 0; i < 10; i++)
        s_queue (db, "reply", id, "{\"text\": \"批量消息\"}");
    fflush (NULL);
    pid_t child = fork ();
    cr_assert_geq (child, 0);
    if (child == 0) {
        //  claims all ten, writes three, dies before it records any
        tf_db_t *own = tf_test_db ();
        crashing_t crashing = { notifier_sink_file_new ("crash-file", path), 0, 3 };
        notifier_sink_t *sink = notifier_sink_new ("crash-file", NULL, &crashing, s_crashing_deliver, NULL);
        notifier_t *notifier = s_notifier (own, sink, "");
        notifier_policy_t policy = { .routes = "*=crash-file", .channels = s_channel, .lease_seconds = 3 };
        notifier_configure (notifier, &policy);
        notifier_deliver (notifier, 50, 1000, NULL);
        _exit (0);
    }
    int status;
    cr_assert_eq (waitpid (child, &status, 0), child);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 9, "the child did not die mid-batch");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND status = 'queued'"
                                      " AND claimed_at IS NOT NULL", (long long) id), 10);
    //  another notifier on the same file, once the lease ran out
    notifier_t *notifier = s_notifier (db, notifier_sink_file_new ("crash-file", path), "");
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 0);       //  still leased
    zclock_sleep (3100);
    cr_assert_eq (notifier_deliver (notifier, 50, 1000, &stats), 10);
    cr_assert_eq (stats.recovered, 3);
    cr_assert_eq (stats.sent, 7);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND status = 'sent'"
                                      " AND claimed_at IS NULL", (long long) id), 10);
    //  each message once in the file
    FILE *f = fopen (path, "r");
    cr_assert (f);
    char line [8192];
    int lines = 0;
    long long seen [16] = { 0 };
    while (fgets (line, sizeof line, f)) {
        json_t *json = json_loads (line, 0, NULL);
        cr_assert (json);
        long long message_id = json_integer_value (json_object_get (json, "message_id"));
        for (int i = 0; i < lines; i++)
            cr_assert_neq (seen [i], message_id, "message %lld written twice", message_id);
        cr_assert_lt (lines, 16);
        seen [lines++] = message_id;
        json_decref (json);
    }
    fclose (f);
    cr_assert_eq (lines, 10);
    unlink (path);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

Test (outbox, the_digest_is_one_message_per_customer_with_open_tickets)
{
    tf_test_alone ();           //  the digest is for every customer in the database
    tf_db_t *db = tf_test_db ();
    char alice [64], bob [64], carol [64], a1 [32], a2 [32], b1 [32], b2 [32], c1 [32];
    snprintf (alice, sizeof alice, "alice-%s", tf_test_unique ());
    snprintf (bob, sizeof bob, "bob-%s", tf_test_unique ());
    snprintf (carol, sizeof carol, "carol-%s", tf_test_unique ());
    s_ticket (db, alice, "in_progress", "P3", a1);
    int64_t a2_id = s_ticket (db, alice, "on_hold", "P2", a2);
    s_ticket (db, bob, "assigned", "P3", b1);
    s_ticket (db, bob, "closed", "P3", b2);
    s_ticket (db, carol, "confirmed", "P3", c1);
    //  alice's second ticket has a public step
    tf_test_sql (db, "INSERT INTO ticket_messages (ticket_id, direction, author, body) VALUES"
                     " (%lld, 'out', '王芳', '已联系仓库补发')", (long long) a2_id);
    kept_t kept = { 0 };
    notifier_t *notifier = s_notifier (db, notifier_sink_new ("digest", NULL, &kept, s_keep, NULL), "");
    notifier_policy_t policy = { .routes = "*=digest", .digest_at = "17:00", .channels = s_channel };
    cr_assert_eq (notifier_configure (notifier, &policy), 0);
    //  before 17:00 nothing; at 17:00 the day's digest, once
    s_clock (db, "2031-03-04 16:59:00+08");
    cr_assert_eq (notifier_digest (notifier, NULL), 0);
    s_clock (db, "2031-03-04 17:00:05+08");
    int customers = notifier_digest (notifier, NULL);
    cr_assert_geq (customers, 2);
    cr_assert_eq (notifier_digest (notifier, NULL), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT customers FROM digest_runs WHERE day = '2031-03-04'"), customers);
    const char *of = "SELECT count(*) FROM outbox WHERE kind = 'digest' AND customer_ref = '%s'";
    char sql [512];
    snprintf (sql, sizeof sql, of, alice);
    cr_assert_eq (tf_test_scalar (db, "%s", sql), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE kind = 'digest' AND customer_ref = '%s'"
                                      " AND (payload->>'tickets')::int = 2 AND ticket_id IS NULL"
                                      " AND strpos (payload->>'message', '%s') > 0 AND strpos (payload->>'message', '%s') > 0"
                                      " AND strpos (payload->>'message', '已联系仓库补发') > 0"
                                      " AND strpos (payload->>'message', '挂起') > 0", alice, a1, a2), 1);
    //  bob: the open one, not the closed one
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE kind = 'digest' AND customer_ref = '%s'"
                                      " AND (payload->>'tickets')::int = 1 AND strpos (payload->>'message', '%s') > 0"
                                      " AND strpos (payload->>'message', '%s') = 0", bob, b1, b2), 1);
    //  carol has nothing open
    snprintf (sql, sizeof sql, of, carol);
    cr_assert_eq (tf_test_scalar (db, "%s", sql), 0);
    //  it goes out like any customer message
    tf_test_sql (db, "UPDATE outbox SET channel = '%s' WHERE kind = 'digest' AND customer_ref = '%s'", s_channel, alice);
    notifier_delivery_t stats;
    notifier_deliver (notifier, 50, 1000, &stats);
    cr_assert_geq (stats.sent, 1);
    cr_assert (strstr (kept.last, "\"kind\":\"digest\""), "%s", kept.last);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE kind = 'digest' AND customer_ref = '%s'"
                                      " AND status = 'sent'", alice), 1);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  The feedback path: a stored answer processed by the notifier
static notifier_outcome_t
s_answer (tf_db_t *db, notifier_t *notifier, int64_t id, bool solved, int csat)
{
    tf_test_sql (db, "INSERT INTO feedback (ticket_id, solved, csat) VALUES (%lld, %s, %d)", (long long) id,
                 solved? "true": "false", csat);
    notifier_feedback_t results [4];
    cr_assert_eq (notifier_process_feedback (notifier, &id, 1, results, 4), 1);
    return results [0].outcome;
}

Test (outbox, unanswered_closes_as_auto_closed_apart_from_confirmed_and_reopened)
{
    tf_db_t *db = tf_test_db ();
    kept_t kept = { 0 };
    notifier_t *notifier = s_notifier (db, notifier_sink_new ("closing", NULL, &kept, s_keep, NULL), "");
    int64_t silent = s_ticket (db, NULL, "resolved", "P3", NULL);
    int64_t recent = s_ticket (db, NULL, "resolved", "P3", NULL);
    int64_t happy = s_ticket (db, NULL, "resolved", "P3", NULL);
    int64_t unhappy = s_ticket (db, NULL, "resolved", "P3", NULL);
    int64_t broken = s_ticket (db, NULL, "resolved", "P3", NULL);
    tf_test_sql (db, "UPDATE tickets SET status_changed_at = tf_now () - interval '3 days 1 minute',"
                     " resolved_at = tf_now () - interval '3 days 1 minute' WHERE id = %lld", (long long) silent);
    tf_test_sql (db, "UPDATE tickets SET status_changed_at = tf_now () - interval '2 days' WHERE id = %lld",
                 (long long) recent);
    cr_assert_eq (s_answer (db, notifier, happy, true, 5), NOTIFIER_CONFIRMED);
    cr_assert_eq (s_answer (db, notifier, unhappy, true, 1), NOTIFIER_CONFIRMED);
    cr_assert_eq (s_answer (db, notifier, broken, false, 2), NOTIFIER_REOPENED);
    cr_assert_geq (notifier_close_unconfirmed (notifier, 1000), 1);
    //  three days without an answer: closed, but not as confirmed
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'auto_closed'"
                                      " AND closed_at IS NOT NULL AND csat IS NULL AND NOT '满意' = ANY (tags)",
                                  (long long) silent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'auto_closed'"
                                      " AND from_status = 'resolved' AND to_status = 'auto_closed' AND actor = 'notifier'",
                                  (long long) silent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'auto_closed'"
                                      " AND strpos (payload->>'message', '3 天内未收到您的确认') > 0", (long long) silent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM followups WHERE ticket_id = %lld AND kind = 'call'",
                                  (long long) silent), 1);
    //  the others stay as they are
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'resolved'",
                                  (long long) recent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'confirmed'"
                                      " AND csat = 5 AND '满意' = ANY (tags)", (long long) happy), 1);
    //  solved but scored 1: confirmed, not satisfied, and the supervisor reviews it
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'confirmed'"
                                      " AND csat = 1 AND NOT '满意' = ANY (tags)", (long long) unhappy), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM followups WHERE ticket_id = %lld AND kind = 'review'"
                                      " AND done_at IS NULL", (long long) unhappy), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'reopened'",
                                  (long long) broken), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM followups WHERE ticket_id = %lld", (long long) broken), 0);
    //  closing again changes nothing
    notifier_close_unconfirmed (notifier, 1000);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'auto_closed'",
                                  (long long) silent), 1);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

//  followup.done through the notifier; returns 0 or -1
static int
s_done (notifier_t *notifier, const char *ticket_no, const char *kind, int csat, char *status)
{
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_FOLLOWUP_DONE);
    tf_msg_set_cstr (&m, TF_F_FOLLOWUP_DONE_TICKET_NO, ticket_no);
    if (kind)
        tf_msg_set_cstr (&m, TF_F_FOLLOWUP_DONE_KIND, kind);
    tf_msg_set_cstr (&m, TF_F_FOLLOWUP_DONE_NOTE, "已电话回访,客户电话13812345678");
    if (csat)
        tf_msg_set_int (&m, TF_F_FOLLOWUP_DONE_CSAT, csat);
    tf_msg_set_int (&m, TF_F_FOLLOWUP_DONE_NPS, 3);
    tf_error_t err;
    int rc = notifier_followup_done (notifier, &m, status, &err);
    tf_msg_clear (&m);
    return rc;
}

Test (outbox, follow_up_calls_surveys_and_reviews)
{
    tf_db_t *db = tf_test_db ();
    kept_t kept = { 0 };
    notifier_t *notifier = s_notifier (db, notifier_sink_new ("followup", NULL, &kept, s_keep, NULL), "");
    char urgent_no [32], calm_no [32], status [16];
    int64_t urgent = s_ticket (db, NULL, "resolved", "P2", urgent_no);
    int64_t calm = s_ticket (db, NULL, "resolved", "P3", calm_no);
    cr_assert_eq (s_answer (db, notifier, urgent, true, 3), NOTIFIER_CONFIRMED);
    cr_assert_eq (s_answer (db, notifier, calm, true, 3), NOTIFIER_CONFIRMED);
    //  P2: the call opens now and is due within 24 h of the fix; P3: from a day after, by the third
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM followups f JOIN tickets t ON t.id = f.ticket_id"
                                      " WHERE f.ticket_id = %lld AND f.kind = 'call' AND f.assignee = '王芳'"
                                      " AND f.opens_at <= tf_now () AND f.due_at <= t.resolved_at + interval '24 hours'",
                                  (long long) urgent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM followups f JOIN tickets t ON t.id = f.ticket_id"
                                      " WHERE f.ticket_id = %lld AND f.kind = 'call'"
                                      " AND f.opens_at = t.resolved_at + interval '1 day'"
                                      " AND f.due_at = t.resolved_at + interval '3 days'", (long long) calm), 1);
    //  the survey goes when the call opens
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'survey'"
                                      " AND next_attempt_at <= tf_now () + interval '1 second'"
                                      " AND strpos (payload->>'message', '0-10') > 0", (long long) urgent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'survey'"
                                      " AND next_attempt_at > tf_now () + interval '23 hours'", (long long) calm), 1);
    //  the list shows what is open now, soonest due first
    tf_msg_t list;
    tf_msg_init (&list, TF_MSG_FOLLOWUP_LIST);
    tf_msg_set_cstr (&list, TF_F_FOLLOWUP_LIST_AGENT, "王芳");
    char *text = notifier_followups (notifier, &list);
    tf_msg_clear (&list);
    cr_assert (text && strstr (text, urgent_no) && !strstr (text, calm_no), "%s", text);
    free (text);
    //  the call done with the customer's low score: the survey is stored, a review opens
    cr_assert_eq (s_done (notifier, urgent_no, NULL, 2, status), 0);
    cr_assert_str_eq (status, "confirmed");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM surveys WHERE ticket_id = %lld AND csat = 2 AND nps = 3"
                                      " AND source = '王芳' AND comment LIKE '%%138****5678%%'", (long long) urgent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM followups WHERE ticket_id = %lld AND kind = 'call'"
                                      " AND done_at IS NOT NULL AND done_by = '王芳'", (long long) urgent), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM followups WHERE ticket_id = %lld AND kind = 'review'"
                                      " AND done_at IS NULL", (long long) urgent), 1);
    //  done twice: nothing open
    cr_assert_eq (s_done (notifier, urgent_no, NULL, 0, status), -1);
    cr_assert_eq (s_done (notifier, urgent_no, "review", 0, status), 0);

    //  the customer's own answer to the survey: 5 tags them satisfied
    intake_t *intake = intake_new (db);
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SURVEY);
    tf_msg_set_cstr (&m, TF_F_SURVEY_TICKET_NO, calm_no);
    tf_msg_set_int (&m, TF_F_SURVEY_CSAT, 5);
    tf_msg_set_int (&m, TF_F_SURVEY_NPS, 9);
    tf_msg_set_int (&m, TF_F_SURVEY_EFFICIENCY, 4);
    tf_msg_set_int (&m, TF_F_SURVEY_ATTITUDE, 5);
    tf_msg_set_int (&m, TF_F_SURVEY_RESULT, 5);
    tf_msg_set_cstr (&m, TF_F_SURVEY_COMMENT, "客服很耐心");
    tf_error_t err;
    cr_assert_eq (intake_survey (intake, &m, status, &err), 0);
    tf_msg_clear (&m);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM surveys WHERE ticket_id = %lld AND csat = 5 AND nps = 9"
                                      " AND efficiency = 4 AND attitude = 5 AND result = 5 AND source = 'customer'",
                                  (long long) calm), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND '满意' = ANY (tags)",
                                  (long long) calm), 1);
    //  a survey on an open ticket is refused
    char open_no [32];
    s_ticket (db, NULL, "in_progress", "P3", open_no);
    tf_msg_init (&m, TF_MSG_SURVEY);
    tf_msg_set_cstr (&m, TF_F_SURVEY_TICKET_NO, open_no);
    tf_msg_set_int (&m, TF_F_SURVEY_CSAT, 5);
    cr_assert_eq (intake_survey (intake, &m, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}

Test (outbox, every_customer_message_is_masked_on_its_way_out)
{
    tf_db_t *db = tf_test_db ();
    int64_t id = s_ticket (db, NULL, "in_progress", "P3", NULL);
    //  every variable of every kind carries personal numbers, as a careless
    //  template or a service that forgot to mask might
    PGresult *res = tf_db_query (db, "SELECT kind, variables FROM message_kinds WHERE kind <> 'digest_item'", 0, NULL);
    cr_assert (tf_db_ok (db, res, "kinds"));
    int kinds = PQntuples (res);
    cr_assert_geq (kinds, 10);
    for (int i = 0; i < kinds; i++) {
        char vars [2048] = "{";
        const char *names = PQgetvalue (res, i, 1);
        char copy [1024];
        snprintf (copy, sizeof copy, "%.*s", (int) strlen (names) - 2, names + 1);
        char *save = NULL;
        for (char *name = strtok_r (copy, ",", &save); name; name = strtok_r (NULL, ",", &save))
            snprintf (vars + strlen (vars), sizeof vars - strlen (vars), "%s\"%s\": \"电话13812345678 身份证110101199003071234"
                      " 卡号6222021234567890123 邮箱zhang.san@example.com\"", vars [1]? ", ": "", name);
        strcat (vars, "}");
        //  the digest has no ticket: queued as the notifier makes it
        if (streq (PQgetvalue (res, i, 0), "digest"))
            tf_test_sql (db, "INSERT INTO outbox (kind, sink, audience, channel, customer_ref, payload)"
                             " SELECT 'digest', 'customer', 'customer', '%s', 'x', jsonb_build_object ('subject',"
                             " tf_render (subject, '%s'), 'message', tf_render (text, '%s')) FROM message_templates"
                             " WHERE kind = 'digest' AND channel = '*'", s_channel, vars, vars);
        else
            s_queue (db, PQgetvalue (res, i, 0), id, vars);
    }
    PQclear (res);
    char path [256];
    snprintf (path, sizeof path, "/tmp/tf-outbox-%s/masked.jsonl", tf_test_unique ());
    notifier_t *to_file = s_notifier (db, notifier_sink_file_new ("masked-file", path), "");
    notifier_delivery_t stats;
    cr_assert_eq (notifier_deliver (to_file, 100, 5000, &stats), kinds);
    cr_assert_eq (stats.sent, kinds);
    FILE *f = fopen (path, "r");
    char line [16384];
    int lines = 0;
    while (fgets (line, sizeof line, f)) {
        lines++;
        cr_assert_null (strstr (line, "13812345678"), "a phone number went out: %s", line);
        cr_assert_null (strstr (line, "110101199003071234"), "an ID number went out: %s", line);
        cr_assert_null (strstr (line, "6222021234567890123"), "a card number went out: %s", line);
        cr_assert_null (strstr (line, "zhang.san@example.com"), "an e-mail address went out: %s", line);
        cr_assert (strstr (line, "138****5678"), "%s", line);
    }
    fclose (f);
    cr_assert_eq (lines, kinds);
    unlink (path);
    notifier_destroy (&to_file);
    tf_db_destroy (&db);
}

Test (outbox, a_long_ticket_tells_its_customer_at_least_every_three_days)
{
    tf_db_t *db = tf_test_db ();
    int64_t old = s_ticket (db, NULL, "in_progress", "P3", NULL);
    int64_t told = s_ticket (db, NULL, "in_progress", "P3", NULL);
    int64_t young = s_ticket (db, NULL, "in_progress", "P3", NULL);
    tf_test_sql (db, "UPDATE tickets SET created_at = tf_now () - interval '4 days' WHERE id IN (%lld, %lld)",
                 (long long) old, (long long) told);
    //  this one heard from us yesterday
    s_queue (db, "reply", told, "{\"text\": \"昨天的回复\"}");
    kept_t kept = { 0 };
    notifier_t *notifier = s_notifier (db, notifier_sink_new ("long", NULL, &kept, s_keep, NULL), "");
    cr_assert_geq (notifier_still_working (notifier, 1000), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'still_working'"
                                      " AND strpos (payload->>'message', '已处理 4 天') > 0", (long long) old), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id IN (%lld, %lld)"
                                      " AND kind = 'still_working'", (long long) told, (long long) young), 0);
    //  not again until three more days pass without news
    notifier_still_working (notifier, 1000);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'still_working'",
                                  (long long) old), 1);
    tf_test_sql (db, "SELECT set_config ('ticketflow.clock_shift', '%d', false)", 3 * 86400 + 3600);
    notifier_still_working (notifier, 1000);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'still_working'",
                                  (long long) old), 2);
    notifier_destroy (&notifier);
    tf_db_destroy (&db);
}
