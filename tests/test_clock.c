//  The service desk's clock, driven through a business week in seconds by
//  moving the one clock every service reads (tf_now (), moved by the
//  setting ticketflow.clock_shift on the test's connection):
//  out-of-hours receipt, a weekend, a holiday and its make-up day (the
//  shipped calendar, deploy/calendar.json), a hold across closing time,
//  the 80 % warning, each escalation step, the P1 calls (on-duty manager
//  at 5 minutes, the owner's SMS at 2 hours), the progress cadence, the
//  verification after a fix, a reopened ticket's new deadline and a
//  contact time given by the adapter. The sla stage is called directly.
#include "intake.h"
#include "sla.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <time.h>

//  They run alone: each fires whatever clock is due by its moved clock,
//  and the roster has one on-duty manager
TestSuite (clock, .timeout = 60);

//  Sets the clock to `at` (Asia/Shanghai unless it says otherwise)
static void
s_clock (tf_db_t *db, const char *at)
{
    tf_test_sql (db, "SELECT set_config ('ticketflow.clock_shift',"
                     " extract (epoch FROM '%s'::timestamptz - now ())::text, false)", at);
}

//  True when the timestamptz expression `expr` is within 5 s of `at`
static bool
s_near (tf_db_t *db, const char *expr, const char *at)
{
    return tf_test_scalar (db, "SELECT (abs (extract (epoch FROM (%s) - '%s'::timestamptz)) < 5)::int",
                           expr, at) == 1;
}

static void
s_expect_near (tf_db_t *db, const char *what, const char *expr, const char *at)
{
    if (!s_near (db, expr, at)) {
        char sql [1024];
        snprintf (sql, sizeof sql, "SELECT to_char ((%s) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')", expr);
        PGresult *res = tf_db_query (db, sql, 0, NULL);
        char *got = strdup (tf_db_ok (db, res, sql) && PQntuples (res) && !PQgetisnull (res, 0, 0)?
                      PQgetvalue (res, 0, 0): "NULL");
        PQclear (res);
        cr_assert_fail ("%s: due %s (Shanghai), expected %s", what, got, at);
    }
}

static tf_db_t *
s_db (void)
{
    tf_test_alone ();
    tf_db_t *db = tf_test_db ();
    tf_test_sql (db, "RESET ticketflow.clock_shift");
    //  a roster of logistics: an agent, a team lead, a supervisor; the
    //  on-duty manager of the shift
    tf_test_sql (db, "UPDATE agents SET duty_manager = false WHERE duty_manager");
    tf_test_sql (db, "INSERT INTO agents (name, department, role, on_duty, duty_manager, contact) VALUES"
                     " ('clock-小李', 'logistics', 'agent', true, false, 'im:xiaoli'),"
                     " ('clock-组长王', 'logistics', 'team_lead', true, false, '13800000001'),"
                     " ('clock-主管陈', 'logistics', 'supervisor', true, false, '13800000002'),"
                     " ('clock-经理赵', 'supervisor', 'manager', true, true, '13800000003')"
                     " ON CONFLICT (name) DO UPDATE SET on_duty = true, duty_manager = EXCLUDED.duty_manager");
    return db;
}

static void
s_done (tf_db_t **db)
{
    //  what these tickets still run is met, so no later test finds it due
    tf_test_sql (*db, "UPDATE sla_timers SET met_at = tf_now () WHERE met_at IS NULL AND breached_at IS NULL"
                      " AND ticket_id IN (SELECT id FROM tickets WHERE customer_ref = 'C-clock')");
    tf_test_sql (*db, "RESET ticketflow.clock_shift");
    tf_db_destroy (db);
}

//  A ticket received now (by the moved clock) and classified into
//  `subcategory` with `priority`, in logistics, assigned to 小李 (and
//  accepted when `accepted`); its clocks made by sla.
static int64_t
s_ticket (tf_db_t *db, sla_t *sla, const char *subcategory, const char *priority, bool accepted,
          const char *contacted_at, char *ticket_no)
{
    int64_t id = tf_test_submit (db, "C-clock", "测试工单", contacted_at, ticket_no);
    tf_test_sql (db, "UPDATE tickets SET priority = '%s', status = '%s', department = 'logistics',"
                     " subcategory = '%s', assignee = 'clock-小李', accepted_at = %s, first_response_at = %s"
                     " WHERE id = %lld", priority, accepted? "accepted": "assigned", subcategory,
                 accepted? "tf_now ()": "NULL", accepted? "tf_now ()": "NULL", (long long) id);
    cr_assert_eq (sla_track (sla, &id, 1), 1);
    return id;
}

static char *
s_due (int64_t id, const char *kind)
{
    return zsys_sprintf ("SELECT due_at FROM sla_timers WHERE ticket_id = %lld AND kind = '%s'"
                         " ORDER BY round DESC LIMIT 1", (long long) id, kind);
}

static void
s_expect_due (tf_db_t *db, int64_t id, const char *kind, const char *at)
{
    char *sql = s_due (id, kind);
    char *expr = zsys_sprintf ("(%s)", sql);
    s_expect_near (db, kind, expr, at);
    zstr_free (&expr);
    zstr_free (&sql);
}

//  The same for the warning at 80 % of a deadline
static void
s_expect_warning (tf_db_t *db, int64_t id, const char *kind, const char *at)
{
    char *expr = zsys_sprintf ("(SELECT warn_at FROM sla_timers WHERE ticket_id = %lld AND kind = '%s'"
                               " ORDER BY round DESC LIMIT 1)", (long long) id, kind);
    s_expect_near (db, "warning", expr, at);
    zstr_free (&expr);
}

//  Runs the due clocks; returns how many signals of `signal` about `id`
//  (and their kind in kind_out, the last one)
static int
s_fire (sla_t *sla, int64_t id, sla_signal_t signal, char *kind_out)
{
    sla_fired_t out [512];
    size_t taken;
    int n, count = 0;
    do {
        n = sla_fire_due (sla, out, 256, &taken);
        cr_assert_geq (n, 0);
        for (int i = 0; i < n; i++)
            if (out [i].ticket_id == id && out [i].signal == signal) {
                count++;
                if (kind_out)
                    strcpy (kind_out, signal == SLA_ESCALATED? out [i].role: out [i].kind);
            }
    } while (taken == 256);
    return count;
}

static long long
s_events (tf_db_t *db, int64_t id, const char *kind)
{
    return tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = '%s'",
                           (long long) id, kind);
}

Test (clock, out_of_hours_weekends_holidays_and_make_up_days)
{
    tf_db_t *db = s_db ();
    sla_t *sla = sla_new (db);
    cr_assert (sla);

    //  Wednesday 30 September, 21:30: the desk closed at 21:00. The
    //  response clock starts at the next opening (the desk works through
    //  the National Day holiday), so it is due at 09:15 on 1 October.
    //  投诉/举报 has 3 working days: 1-7 October are holidays, so they are
    //  Thursday 8, Friday 9 and Saturday 10 October, the make-up day (调休).
    s_clock (db, "2026-09-30 21:30+08");
    int64_t report = s_ticket (db, sla, "投诉/举报", "P2", false, NULL, NULL);
    char *sql = zsys_sprintf ("(SELECT created_at FROM tickets WHERE id = %lld)", (long long) report);
    s_expect_near (db, "received", sql, "2026-09-30 21:30+08");
    zstr_free (&sql);
    s_expect_due (db, report, "response", "2026-10-01 09:15+08");
    s_expect_warning (db, report, "response", "2026-10-01 09:12+08");
    s_expect_due (db, report, "resolution", "2026-10-10 18:00+08");
    sql = zsys_sprintf ("(SELECT response_due_at FROM tickets WHERE id = %lld)", (long long) report);
    s_expect_near (db, "the ticket's response_due_at", sql, "2026-10-01 09:15+08");
    zstr_free (&sql);

    //  Friday 4 December, 17:00: 3 working days are Friday's last hour,
    //  Monday, Tuesday and most of Wednesday; the weekend does not count
    s_clock (db, "2026-12-04 17:00+08");
    report = s_ticket (db, sla, "投诉/举报", "P2", false, NULL, NULL);
    s_expect_due (db, report, "response", "2026-12-04 17:15+08");
    s_expect_due (db, report, "resolution", "2026-12-09 17:00+08");
    //  退换货: 48 hours of review (to Sunday 17:00), then 3 working days to
    //  refund, counted from Monday's opening
    int64_t refund = s_ticket (db, sla, "退换货申请", "P2", false, NULL, NULL);
    s_expect_due (db, refund, "resolution", "2026-12-09 18:00+08");
    //  A P1 runs around the clock: received on Saturday night at 23:00
    s_clock (db, "2026-12-05 23:00+08");
    int64_t urgent = s_ticket (db, sla, "账号被盗", "P1", false, NULL, NULL);
    s_expect_due (db, urgent, "response", "2026-12-05 23:15+08");
    s_expect_due (db, urgent, "resolution", "2026-12-06 01:00+08");
    s_expect_warning (db, urgent, "red_untouched", "2026-12-05 23:05+08");       //  the manager's call
    s_expect_due (db, urgent, "red_untouched", "2026-12-06 01:00+08");
    //  The hotline typed the ticket in 20 minutes after the call: the
    //  clocks start at the call
    s_clock (db, "2026-12-07 10:00+08");
    char contacted [64];
    time_t now = time (NULL);
    strftime (contacted, sizeof contacted, "%Y-%m-%dT%H:%M:%SZ", gmtime (&(time_t) { now - 1200 }));
    tf_test_sql (db, "RESET ticketflow.clock_shift");
    int64_t late = s_ticket (db, sla, "功能操作", "P3", false, contacted, NULL);
    char *expr = zsys_sprintf ("(SELECT tf_business_add ('%s'::timestamptz, 900, 'default'))", contacted);
    char *due = s_due (late, "response");
    cr_assert_eq (tf_test_scalar (db, "SELECT ((%s) = %s)::int", due, expr), 1,
                  "the response clock starts at contacted_at");
    zstr_free (&due);
    zstr_free (&expr);
    sla_destroy (&sla);
    s_done (&db);
}

Test (clock, a_hold_across_closing_time_keeps_the_time_that_was_left)
{
    tf_db_t *db = s_db ();
    sla_t *sla = sla_new (db);
    char no [32], status [16];
    //  功能操作: resolved within 60 minutes of service time. Accepted at
    //  20:30; on hold at 20:40 with 50 minutes left; resumed at 10:00 the
    //  next morning: due at 10:50
    s_clock (db, "2026-12-07 20:30+08");
    int64_t id = s_ticket (db, sla, "功能操作", "P3", true, NULL, no), got;
    s_expect_due (db, id, "resolution", "2026-12-08 09:30+08");
    s_clock (db, "2026-12-07 20:40+08");
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_HOLD);
    tf_msg_set_cstr (&m, TF_F_HOLD_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "等客户提供截图");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2026-12-07T21:30:00+08:00");
    tf_error_t err;
    cr_assert_eq (sla_hold (sla, &m, &got, status, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL",
                                  (long long) id), 0, "hold pauses every clock");
    //  a hold "until" in the past of the moved clock is refused
    tf_msg_init (&m, TF_MSG_HOLD);
    tf_msg_set_cstr (&m, TF_F_HOLD_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "x");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2026-12-07T20:00:00+08:00");
    cr_assert_eq (sla_hold (sla, &m, &got, status, &err), -1);
    cr_assert_str_eq (err.field, "until");
    tf_msg_clear (&m);
    //  overnight nothing fires
    s_clock (db, "2026-12-08 09:55+08");
    cr_assert_eq (s_fire (sla, id, SLA_BREACHED, NULL), 0);
    s_clock (db, "2026-12-08 10:00+08");
    tf_msg_init (&m, TF_MSG_RESUME);
    tf_msg_set_cstr (&m, TF_F_RESUME_TICKET_NO, no);
    cr_assert_eq (sla_resume (sla, &m, &got, status, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    s_expect_due (db, id, "resolution", "2026-12-08 10:50+08");
    //  and its warning at 80 % (48 minutes in) the 38 minutes it had left
    s_expect_warning (db, id, "resolution", "2026-12-08 10:38+08");
    char *sql = zsys_sprintf ("(SELECT resolve_due_at FROM tickets WHERE id = %lld)", (long long) id);
    s_expect_near (db, "the ticket's resolve_due_at", sql, "2026-12-08 10:50+08");
    zstr_free (&sql);
    sla_destroy (&sla);
    s_done (&db);
}

Test (clock, warnings_and_each_escalation_step)
{
    tf_db_t *db = s_db ();
    sla_t *sla = sla_new (db);
    sla_configure (sla, &(sla_settings_t) { .escalation_step_minutes = 30, .owner_sink = "file",
                                            .sms_sink = "sms" });
    char kind [32];
    //  Monday 10:00, assigned to 小李 and not answered
    s_clock (db, "2026-12-07 10:00+08");
    int64_t id = s_ticket (db, sla, "物流信息更新延迟", "P2", false, NULL, NULL);
    s_clock (db, "2026-12-07 10:11+08");
    cr_assert_eq (s_fire (sla, id, SLA_WARNING, NULL), 0, "no warning before 80 %%");
    //  10:12: 80 % of the 15 minutes: a warning to the handler
    s_clock (db, "2026-12-07 10:12:01+08");
    cr_assert_eq (s_fire (sla, id, SLA_WARNING, kind), 1);
    cr_assert_str_eq (kind, "response_warning");
    cr_assert_eq (s_events (db, id, "sla_warning"), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'staff_reminder'"
                                      " AND sink = 'file' AND payload->>'to_agent' = 'clock-小李'"
                                      " AND payload->>'to' = 'im:xiaoli'", (long long) id), 1);
    //  10:15: the response deadline breaches; the team lead has it (level 1)
    s_clock (db, "2026-12-07 10:15:01+08");
    cr_assert_eq (s_fire (sla, id, SLA_BREACHED, kind), 1);
    cr_assert_str_eq (kind, "response");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND response_breached"
                                      " AND escalation_level = 1 AND escalated_to = 'clock-组长王'", (long long) id), 1);
    cr_assert_eq (s_events (db, id, "escalated"), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'escalation'"
                                      " AND payload->>'to_agent' = 'clock-组长王' AND payload->>'level' = '1'"
                                      " AND payload->>'message' LIKE '%%已升级到您(第1级)%%'",
                                  (long long) id), 1);
    //  30 minutes on, the supervisor (level 2); 30 more, the manager (3)
    s_clock (db, "2026-12-07 10:44+08");
    cr_assert_eq (s_fire (sla, id, SLA_ESCALATED, NULL), 0);
    s_clock (db, "2026-12-07 10:45:05+08");
    cr_assert_eq (s_fire (sla, id, SLA_ESCALATED, kind), 1);
    cr_assert_str_eq (kind, "supervisor");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND escalation_level = 2"
                                      " AND escalated_to = 'clock-主管陈'", (long long) id), 1);
    s_clock (db, "2026-12-07 11:15:10+08");
    cr_assert_eq (s_fire (sla, id, SLA_ESCALATED, kind), 1);
    cr_assert_str_eq (kind, "manager");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND escalation_level = 3"
                                      " AND escalated_to = 'clock-经理赵'", (long long) id), 1);
    //  the top: nothing further
    s_clock (db, "2026-12-07 13:00+08");
    cr_assert_eq (s_fire (sla, id, SLA_ESCALATED, NULL), 0);
    cr_assert_eq (s_events (db, id, "escalated"), 3);
    sla_destroy (&sla);
    s_done (&db);
}

Test (clock, a_p1_calls_the_duty_manager_and_texts_its_owner)
{
    tf_db_t *db = s_db ();
    sla_t *sla = sla_new (db);
    char kind [32];
    //  Sunday 03:00 (P1 clocks run around the clock): unaccepted at 5 minutes
    s_clock (db, "2026-12-06 03:00+08");
    int64_t id = s_ticket (db, sla, "账号被盗", "P1", false, NULL, NULL);
    s_clock (db, "2026-12-06 03:05:01+08");
    cr_assert_eq (s_fire (sla, id, SLA_ESCALATED, kind), 1);
    cr_assert_str_eq (kind, "manager");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND escalation_level = 3"
                                      " AND escalated_to = 'clock-经理赵'", (long long) id), 1);
    cr_assert_eq (s_events (db, id, "manager_called"), 1);

    //  accepted but untouched (no progress note) for 2 hours: an SMS to its owner
    s_clock (db, "2026-12-06 04:00+08");
    int64_t red = s_ticket (db, sla, "账号被盗", "P1", true, NULL, NULL);
    s_clock (db, "2026-12-06 06:00:01+08");
    s_fire (sla, red, SLA_BREACHED, NULL);
    cr_assert_eq (s_events (db, red, "owner_sms"), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'owner_sms'"
                                      " AND sink = 'sms' AND status = 'queued' AND payload->>'to_agent' = 'clock-小李'"
                                      " AND payload->>'message' LIKE '%%红色投诉%%'", (long long) red), 1);
    //  the accepted one was answered: no manager call for it
    cr_assert_eq (s_events (db, red, "manager_called"), 0);
    sla_destroy (&sla);
    s_done (&db);
}

Test (clock, progress_cadence_verification_and_a_reopened_deadline)
{
    tf_db_t *db = s_db ();
    sla_t *sla = sla_new (db);
    char no [32], status [16], kind [32];
    tf_error_t err;
    int64_t got;
    //  accepted Monday 09:00: a progress update is due every 4 hours in hand
    s_clock (db, "2026-12-07 09:00+08");
    int64_t id = s_ticket (db, sla, "物流信息更新延迟", "P2", true, NULL, no);
    s_expect_due (db, id, "progress", "2026-12-07 13:00+08");
    s_clock (db, "2026-12-07 13:00:01+08");
    cr_assert_eq (s_fire (sla, id, SLA_WARNING, kind), 1);
    cr_assert_str_eq (kind, "progress");
    //  it goes round again: due 4 hours later (and closing at 21:00 moves it on)
    s_expect_due (db, id, "progress", "2026-12-07 17:00+08");
    //  a progress note resets it
    s_clock (db, "2026-12-07 16:00+08");
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_PROGRESS);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "已联系快递公司");
    cr_assert_eq (sla_progress (sla, &m, &got, status, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    s_expect_due (db, id, "progress", "2026-12-07 20:00+08");
    //  resolved at 20:30: the customer is to be contacted within an hour
    //  of service time, which runs out at 09:30 the next morning
    s_clock (db, "2026-12-07 20:30+08");
    tf_msg_init (&m, TF_MSG_RESOLVE);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "已补发");
    cr_assert_eq (sla_resolve (sla, &m, &got, status, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    s_expect_due (db, id, "verification", "2026-12-08 09:30+08");
    s_clock (db, "2026-12-08 09:30:01+08");
    cr_assert_eq (s_fire (sla, id, SLA_BREACHED, kind), 1);
    cr_assert_str_eq (kind, "verification");
    //  the customer says it is not solved (the notifier reopens it), the
    //  agent takes it back: a new resolution deadline, 48 h from the reopening
    s_clock (db, "2026-12-08 11:00+08");
    tf_test_sql (db, "UPDATE tickets SET status = 'accepted', reopen_count = 1 WHERE id = %lld", (long long) id);
    tf_test_sql (db, "INSERT INTO ticket_events (ticket_id, kind, from_status, to_status, actor)"
                     " VALUES (%lld, 'reopened', 'resolved', 'reopened', 'notifier')", (long long) id);
    cr_assert_eq (sla_track (sla, &id, 1), 1);
    s_expect_due (db, id, "resolution", "2026-12-10 11:00+08");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets t JOIN sla_timers s ON s.ticket_id = t.id"
                                      " AND s.kind = 'resolution' AND s.round = 1"
                                      " WHERE t.id = %lld AND t.resolve_due_at = s.due_at", (long long) id), 1);
    sla_destroy (&sla);
    s_done (&db);
}

//  The README's deadline table is the taxonomy's, row for row
static void
s_resolution_text (json_t *r, char *out, size_t size)
{
    const char *units [][2] = { { "business_minutes", "%lld service min" }, { "hours", "%lld h" },
                                { "working_days", "%lld working days" } };
    *out = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get (r, units [i][0]);
        if (!json_is_integer (v))
            continue;
        size_t used = strlen (out);
        if (used)
            used += (size_t) snprintf (out + used, size - used, " + ");
        snprintf (out + used, size - used, units [i][1], (long long) json_integer_value (v));
    }
}

Test (clock, the_readme_deadline_table_is_the_taxonomy)
{
    json_error_t jerr;
    json_t *taxonomy = json_load_file ("deploy/taxonomy/taxonomy.json", 0, &jerr);
    cr_assert (taxonomy, "%s", jerr.text);
    FILE *f = fopen ("README.md", "r");
    cr_assert (f);
    char *readme = calloc (1, 1 << 20);
    size_t len = fread (readme, 1, (1 << 20) - 1, f);
    fclose (f);
    readme [len] = 0;
    size_t i, j;
    json_t *category, *sub;
    int rows = 0;
    json_array_foreach (json_object_get (taxonomy, "categories"), i, category)
        json_array_foreach (json_object_get (category, "subcategories"), j, sub) {
            const char *owner = json_string_value (json_object_get (sub, "first_owner"));
            const char *second = json_string_value (json_object_get (sub, "department"));
            char resolution [128], owners [128], row [512];
            s_resolution_text (json_object_get (sub, "resolution"), resolution, sizeof resolution);
            if (streq (owner, second)) {
                const char *name = "";
                size_t k;
                json_t *d;
                json_array_foreach (json_object_get (taxonomy, "departments"), k, d)
                    if (streq (json_string_value (json_object_get (d, "code")), owner))
                        name = json_string_value (json_object_get (d, "name"));
                snprintf (owners, sizeof owners, "%s (%s)", owner, name);
            }
            else
                snprintf (owners, sizeof owners, "%s → %s", owner, second);
            snprintf (row, sizeof row, "\n| %s `%s` | %s | %s | %lld service min | %s |\n",
                      json_string_value (json_object_get (sub, "name")),
                      json_string_value (json_object_get (sub, "code")),
                      json_string_value (json_object_get (sub, "default_priority")), owners,
                      (long long) json_integer_value (json_object_get (sub, "response_minutes")), resolution);
            cr_assert (strstr (readme, row), "README's deadline table lacks or differs from:%s", row);
            rows++;
        }
    cr_assert_gt (rows, 10);
    free (readme);
    json_decref (taxonomy);
}
