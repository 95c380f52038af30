//  Conversations: the receipt or the out-of-hours reply of a new ticket, a
//  customer's new message threaded into their open ticket (same thread,
//  same order; another customer's never), ticket.message, the agents'
//  public replies, requests for information, internal notes and public
//  progress, the thread on the ticket, and the templates' loader.
//
//  The clock is moved on the test's own connection only (set_config of
//  ticketflow.clock_shift), so the tests run side by side.
#include "intake.h"
#include "sla.h"
#include "tf_taxonomy.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <unistd.h>

TestSuite (conversation, .timeout = 60);

//  Sets this connection's clock to `at`
static void
s_clock (tf_db_t *db, const char *at)
{
    tf_test_sql (db, "SELECT set_config ('ticketflow.clock_shift',"
                     " extract (epoch FROM '%s'::timestamptz - now ())::text, false)", at);
}

typedef struct {
    intake_result_t r;
    char customer [64];
} submitted_t;

//  One submission through intake; the result says whether it was threaded
static intake_result_t
s_submit (tf_db_t *db, const char *channel, const char *customer, const char *body, const char *thread,
          const char *order, const char *source)
{
    intake_t *intake = intake_new (db);
    cr_assert (intake);
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, channel);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, customer);
    if (thread)
        tf_msg_set_cstr (&m, TF_F_SUBMIT_THREAD_ID, thread);
    if (order)
        tf_msg_set_cstr (&m, TF_F_SUBMIT_ORDER_NO, order);
    if (source)
        tf_msg_set_cstr (&m, TF_F_SUBMIT_SOURCE, source);
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    cr_assert (r.ok);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    return r;
}

//  ticket.message; returns 0, or -1 with the error's code in code (32 bytes)
static int
s_message (tf_db_t *db, const char *ticket_no, const char *thread, const char *customer, const char *order,
           const char *body, char *status, char *code)
{
    intake_t *intake = intake_new (db);
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_MESSAGE);
    tf_msg_set_cstr (&m, TF_F_MESSAGE_CHANNEL, "wechat");
    tf_msg_set_cstr (&m, TF_F_MESSAGE_BODY, body);
    if (ticket_no)
        tf_msg_set_cstr (&m, TF_F_MESSAGE_TICKET_NO, ticket_no);
    if (thread)
        tf_msg_set_cstr (&m, TF_F_MESSAGE_THREAD_ID, thread);
    if (customer)
        tf_msg_set_cstr (&m, TF_F_MESSAGE_CUSTOMER_ID, customer);
    if (order)
        tf_msg_set_cstr (&m, TF_F_MESSAGE_ORDER_NO, order);
    char number [32];
    tf_error_t err = { 0 };
    int rc = intake_message (intake, &m, number, status, &err);
    snprintf (code, 32, "%s", rc? err.code: "");
    tf_msg_clear (&m);
    intake_destroy (&intake);
    return rc;
}

static long long
s_tickets_of (tf_db_t *db, const char *customer)
{
    return tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE customer_ref = '%s'", customer);
}

Test (conversation, a_new_ticket_gets_its_receipt_or_the_out_of_hours_reply)
{
    tf_db_t *db = tf_test_db ();
    char customer [64];
    snprintf (customer, sizeof customer, "receipt-%s", tf_test_unique ());
    //  a Wednesday at 10:00: the receipt, the first answer 15 minutes on
    s_clock (db, "2026-12-02 10:00:00+08");
    intake_result_t day = s_submit (db, "app", customer, "优惠券用不了", NULL, NULL, NULL);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'receipt'"
                                      " AND audience = 'customer' AND sink = 'customer' AND status = 'queued'"
                                      " AND strpos (payload->>'message', '%s') > 0"
                                      " AND strpos (payload->>'message', '12月02日 10:15') > 0",
                                  (long long) day.ticket_id, day.ticket_no), 1);
    //  at 22:30 the desk is closed: the auto-reply names tomorrow's opening
    s_clock (db, "2026-12-02 22:30:00+08");
    intake_result_t night = s_submit (db, "phone", customer, "半夜打不开应用", NULL, NULL, NULL);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld", (long long) night.ticket_id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'out_of_hours'"
                                      " AND strpos (payload->>'message', '12月03日 09:00') > 0"
                                      " AND strpos (payload->>'message', '【客服】') = 1",      //  the phone (SMS) text
                                  (long long) night.ticket_id), 1);
    //  a monitor's alert has no customer to tell
    intake_result_t alert = s_submit (db, "monitor", customer, "支付接口超时", NULL, NULL, "monitor");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld", (long long) alert.ticket_id), 0);
    //  a repeat of a submission (same external id) sends nothing new: one receipt
    tf_db_destroy (&db);
}

Test (conversation, a_customer_s_new_message_joins_their_open_ticket_never_another_s)
{
    tf_db_t *db = tf_test_db ();
    char alice [64], bob [64], thread [64], order [64];
    snprintf (alice, sizeof alice, "alice-%s", tf_test_unique ());
    snprintf (bob, sizeof bob, "bob-%s", tf_test_unique ());
    snprintf (thread, sizeof thread, "session-%s", tf_test_unique ());
    snprintf (order, sizeof order, "8%s", tf_test_unique ());
    for (char *c = order; *c; c++)
        if (*c < '0' || *c > '9')
            *c = '7';

    //  the same thread: the second message joins the first ticket
    intake_result_t first = s_submit (db, "wechat", alice, "快递三天没动了", thread, NULL, NULL);
    cr_assert_not (first.threaded);
    intake_result_t again = s_submit (db, "wechat", alice, "还是没有更新,电话13812345678", thread, NULL, NULL);
    cr_assert (again.threaded);
    cr_assert_not (again.duplicate);
    cr_assert_str_eq (again.ticket_no, first.ticket_no);
    cr_assert_eq (s_tickets_of (db, alice), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_messages WHERE ticket_id = %lld AND direction = 'in'"
                                      " AND author = 'customer' AND body LIKE '%%138****5678%%'"
                                      " AND body NOT LIKE '%%13812345678%%'", (long long) first.ticket_id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'customer_message'", (long long) first.ticket_id), 1);
    //  one receipt: the joined message is no new ticket
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld", (long long) first.ticket_id), 1);

    //  the same order, on another channel: joins the ticket about that order
    intake_result_t about = s_submit (db, "app", alice, "订单退款还没到账", NULL, order, NULL);
    cr_assert_not (about.threaded);
    intake_result_t same_order = s_submit (db, "email", alice, "退款到底什么时候到", NULL, order, NULL);
    cr_assert (same_order.threaded);
    cr_assert_str_eq (same_order.ticket_no, about.ticket_no);
    cr_assert_eq (s_tickets_of (db, alice), 2);

    //  another customer never joins: not by thread, not by order
    intake_result_t other = s_submit (db, "wechat", bob, "我的快递也没动", thread, NULL, NULL);
    cr_assert_not (other.threaded);
    intake_result_t other_order = s_submit (db, "app", bob, "同一个订单号", NULL, order, NULL);
    cr_assert_not (other_order.threaded);
    cr_assert_eq (s_tickets_of (db, bob), 2);

    //  ticket.message: by number, by thread, by customer and order
    char status [16], code [32];
    cr_assert_eq (s_message (db, first.ticket_no, NULL, NULL, NULL, "补充:单号是SF123", status, code), 0);
    cr_assert_str_eq (status, "received");
    cr_assert_eq (s_message (db, NULL, thread, alice, NULL, "有人吗", status, code), 0);
    cr_assert_eq (s_message (db, NULL, NULL, alice, order, "退款进度?", status, code), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_messages WHERE ticket_id = %lld", (long long) first.ticket_id), 3);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_messages WHERE ticket_id = %lld", (long long) about.ticket_id), 2);
    //  ... never into another customer's ticket
    cr_assert_eq (s_message (db, first.ticket_no, NULL, bob, NULL, "我也是", status, code), -1);
    cr_assert_str_eq (code, TF_ERR_BAD_VALUE);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_messages WHERE ticket_id = %lld", (long long) first.ticket_id), 3);
    //  nothing matches, or nothing names a ticket
    cr_assert_eq (s_message (db, NULL, "no-such-thread", alice, NULL, "?", status, code), -1);
    cr_assert_str_eq (code, TF_ERR_NOT_FOUND);
    cr_assert_eq (s_message (db, NULL, NULL, alice, NULL, "?", status, code), -1);
    cr_assert_str_eq (code, TF_ERR_MISSING_FIELD);
    //  a closed ticket takes no more: a new problem is a new ticket
    tf_test_sql (db, "UPDATE tickets SET status = 'closed' WHERE id = %lld", (long long) first.ticket_id);
    cr_assert_eq (s_message (db, first.ticket_no, NULL, NULL, NULL, "又坏了", status, code), -1);
    cr_assert_str_eq (code, TF_ERR_ILLEGAL_TRANSITION);
    intake_result_t after = s_submit (db, "wechat", alice, "又没动了", thread, NULL, NULL);
    cr_assert_not (after.threaded);
    cr_assert_eq (s_tickets_of (db, alice), 3);
    tf_db_destroy (&db);
}

//  A ticket an agent has accepted
static int64_t
s_accepted (tf_db_t *db, const char *customer, char *ticket_no)
{
    int64_t id = tf_test_submit (db, customer, "找不到发票在哪里下载", NULL, ticket_no);
    tf_test_sql (db, "UPDATE tickets SET status = 'accepted', category = '产品使用', subcategory = '功能操作',"
                     " priority = 'P3', department = 'frontline', assignee = '王芳', accepted_at = tf_now ()"
                     " WHERE id = %lld", (long long) id);
    return id;
}

typedef int (sla_request_fn) (sla_t *, const tf_msg_t *, int64_t *, char *, tf_error_t *);

//  One sla request with ticket_no and a text field (and ask); returns 0 or -1
static int
s_sla (tf_db_t *db, sla_request_fn *fn, tf_msg_type_t type, tf_field_id_t no_field, tf_field_id_t text_field,
       const char *ticket_no, const char *text, tf_field_id_t flag, char *status)
{
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    tf_msg_t m;
    tf_msg_init (&m, type);
    tf_msg_set_cstr (&m, no_field, ticket_no);
    tf_msg_set_cstr (&m, text_field, text);
    if (flag != TF_FIELD_COUNT)
        tf_msg_set_bool (&m, flag, true);
    int64_t id;
    tf_error_t err;
    int rc = fn (sla, &m, &id, status, &err);
    tf_msg_clear (&m);
    sla_destroy (&sla);
    return rc;
}

Test (conversation, replies_requests_for_information_notes_and_public_progress)
{
    tf_db_t *db = tf_test_db ();
    char customer [64], no [32], status [16];
    snprintf (customer, sizeof customer, "thread-%s", tf_test_unique ());
    int64_t id = s_accepted (db, customer, no);
    long long t = (long long) id;

    //  an internal note: in the thread, never in the outbox
    cr_assert_eq (s_sla (db, sla_note, TF_MSG_NOTE, TF_F_NOTE_TICKET_NO, TF_F_NOTE_TEXT, no,
                         "客户是老用户,语气要客气", TF_FIELD_COUNT, status), 0);
    cr_assert_str_eq (status, "accepted");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_messages WHERE ticket_id = %lld AND direction = 'note'"
                                      " AND author = '王芳' AND outbox_id IS NULL", t), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                                      " AND kind NOT IN ('receipt', 'out_of_hours')", t), 0);

    //  a request for information: the message asks, the ticket waits on the customer
    cr_assert_eq (s_sla (db, sla_reply, TF_MSG_REPLY, TF_F_REPLY_TICKET_NO, TF_F_REPLY_TEXT, no,
                         "请提供订单截图", TF_F_REPLY_ASK, status), 0);
    cr_assert_str_eq (status, "on_hold");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'on_hold'"
                                      " AND awaiting_customer AND hold_until > tf_now () + interval '71 hours'", t), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox o JOIN ticket_messages m ON m.outbox_id = o.id"
                                      " WHERE o.ticket_id = %lld AND o.kind = 'info_request' AND m.direction = 'out'"
                                      " AND strpos (o.payload->>'message', '请提供订单截图') > 0"
                                      " AND strpos (o.payload->>'message', '王芳') > 0", t), 1);
    //  every clock waits with it
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND paused_at IS NULL"
                                      " AND met_at IS NULL AND breached_at IS NULL AND kind = 'resolution'", t), 0);
    //  asking again while it waits is refused (only accepted or in progress)
    cr_assert_eq (s_sla (db, sla_reply, TF_MSG_REPLY, TF_F_REPLY_TICKET_NO, TF_F_REPLY_TEXT, no,
                         "还需要发票抬头", TF_F_REPLY_ASK, status), -1);

    //  the customer answers: the ticket resumes (sla's hold pass) with its clocks
    char code [32];
    cr_assert_eq (s_message (db, no, NULL, customer, NULL, "截图已发,订单号 123", status, code), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND NOT awaiting_customer"
                                      " AND hold_until <= tf_now ()", t), 1);
    sla_t *sla = sla_new (db);
    cr_assert_geq (sla_expire_holds (sla, 1000), 1);
    sla_destroy (&sla);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'in_progress'"
                                      " AND hold_until IS NULL", t), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND paused_at IS NOT NULL", t), 0);

    //  a public progress step and a plain reply go to the customer
    sla = sla_new (db);
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_PROGRESS);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "已联系财务重新开具发票");
    tf_msg_set_bool (&m, TF_F_PROGRESS_PUBLIC, true);
    int64_t ignored;
    tf_error_t err;
    cr_assert_eq (sla_progress (sla, &m, &ignored, status, &err), 0);
    tf_msg_clear (&m);
    //  a step that is not public stays inside
    tf_msg_init (&m, TF_MSG_PROGRESS);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "内部:财务系统慢");
    cr_assert_eq (sla_progress (sla, &m, &ignored, status, &err), 0);
    tf_msg_clear (&m);
    sla_destroy (&sla);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'progress'"
                                      " AND strpos (payload->>'message', '已联系财务重新开具发票') > 0", t), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                                      " AND payload->>'message' LIKE '%%财务系统慢%%'", t), 0);
    cr_assert_eq (s_sla (db, sla_reply, TF_MSG_REPLY, TF_F_REPLY_TICKET_NO, TF_F_REPLY_TEXT, no,
                         "发票已重新开具,请查收邮箱", TF_FIELD_COUNT, status), 0);
    cr_assert_str_eq (status, "in_progress");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld AND kind = 'reply'"
                                      " AND strpos (payload->>'message', '发票已重新开具') > 0", t), 1);

    //  the ticket shows its thread, in order, with each message's delivery state
    intake_t *intake = intake_new (db);
    char *text = intake_ticket_json (intake, no, strlen (no), &err);
    intake_destroy (&intake);
    cr_assert (text);
    json_t *ticket = json_loads (text, 0, NULL);
    free (text);
    cr_assert (ticket);
    json_t *thread = json_object_get (ticket, "thread");
    const char *directions [] = { "note", "out", "in", "out", "out" };
    cr_assert_eq (json_array_size (thread), 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq (json_string_value (json_object_get (json_array_get (thread, i), "direction")),
                          directions [i], "message %zu", i);
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (thread, 1), "delivery")), "queued");
    cr_assert (json_is_null (json_object_get (json_array_get (thread, 0), "delivery")));
    //  and every message queued for it: the receipt, the request, the step, the reply
    cr_assert_eq (json_array_size (json_object_get (ticket, "messages")), 4);
    json_decref (ticket);
    tf_db_destroy (&db);
}

Test (conversation, the_customer_s_history_shows_on_the_ticket)
{
    tf_db_t *db = tf_test_db ();
    char customer [64], no [32];
    snprintf (customer, sizeof customer, "history-%s", tf_test_unique ());
    int64_t old = tf_test_submit (db, customer, "上次的投诉", NULL, NULL);
    tf_test_sql (db, "UPDATE tickets SET status = 'closed', category = '服务态度', subcategory = '投诉/举报'"
                     " WHERE id = %lld", (long long) old);
    tf_test_submit (db, customer, "还没处理完的", NULL, NULL);
    tf_test_submit (db, customer, "这一次", NULL, no);
    intake_t *intake = intake_new (db);
    tf_error_t err;
    char *text = intake_ticket_json (intake, no, strlen (no), &err);
    intake_destroy (&intake);
    json_t *ticket = json_loads (text, 0, NULL);
    free (text);
    json_t *history = json_object_get (ticket, "customer_history");
    cr_assert_eq (json_integer_value (json_object_get (history, "tickets")), 2);
    cr_assert_eq (json_integer_value (json_object_get (history, "open")), 1);
    cr_assert_eq (json_integer_value (json_object_get (history, "complaints_90_days")), 1);
    cr_assert_eq (json_array_size (json_object_get (history, "recent")), 2);
    json_decref (ticket);
    tf_db_destroy (&db);
}

Test (conversation, the_loader_refuses_a_template_with_a_variable_its_kind_lacks)
{
    tf_db_t *db = tf_test_db ();
    char path [256], err [1024];
    snprintf (path, sizeof path, "/tmp/tf-templates-%s.json", tf_test_unique ());
    long long before = tf_test_scalar (db, "SELECT count(*) FROM message_templates");
    FILE *f = fopen (path, "w");
    fprintf (f, "{\"templates\": [{\"kind\": \"receipt\", \"channel\": \"*\", \"text\": \"工单 {ticket_no} {password}\"}]}");
    fclose (f);
    cr_assert_eq (tf_templates_load (db, path, err, sizeof err), -1);
    cr_assert (strstr (err, "{password}") || strstr (err, "password"), "%s", err);
    cr_assert (strstr (err, "receipt"), "%s", err);
    f = fopen (path, "w");
    fprintf (f, "{\"templates\": [{\"kind\": \"no_such_kind\", \"text\": \"x\"}]}");
    fclose (f);
    cr_assert_eq (tf_templates_load (db, path, err, sizeof err), -1);
    cr_assert (strstr (err, "no_such_kind"), "%s", err);
    //  nothing changed
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM message_templates"), before);
    //  staff texts come from the templates too: an operator's edit shows at once
    tf_test_sql (db, "BEGIN");
    tf_test_sql (db, "UPDATE message_templates SET text = '升级:{ticket_no} 第{level}级 {role}' WHERE kind = 'escalation'");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM (SELECT tf_staff_text ('escalation', '{\"ticket_no\": \"CS1\","
                                      " \"level\": 2, \"role\": \"supervisor\"}') AS t) x"
                                      " WHERE t = '升级:CS1 第2级 supervisor'"), 1);
    tf_test_sql (db, "ROLLBACK");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM (SELECT tf_staff_text ('escalation', '{\"ticket_no\": \"CS1\","
                                      " \"level\": 2, \"reason\": \"response\"}') AS t) x"
                                      " WHERE t = '工单 CS1 已升级到您(第2级),原因: response。'"), 1);
    //  every kind has a template for every channel in the shipped file
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM message_kinds k WHERE NOT EXISTS"
                                      " (SELECT 1 FROM message_templates t WHERE t.kind = k.kind AND t.channel = '*')"), 0);
    unlink (path);
    tf_db_destroy (&db);
}
