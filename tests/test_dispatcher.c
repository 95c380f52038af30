//  The assign stage: routing by the taxonomy, classified → assigned with one
//  history row and one ticket.assigned on the department's topic only,
//  queue.list, accept, transfer, reopened → assigned to the same agent, two
//  dispatchers on one database, hostile requests.
#include "dispatcher.h"
#include "dispatcher_service.h"
#include "intake.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include "tf_ticket.h"
#include "tf_utf8.h"
#include <criterion/criterion.h>
#include "tf_json.h"
#include <msgpack.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (dispatcher, .timeout = 60);

//  The rows the tests route by, as deploy/taxonomy/taxonomy.json has them,
//  in case the loader has not filled the tables (it upserts the same rows).
static void
s_taxonomy_fixture (tf_db_t *db)
{
    tf_test_sql (db,
              "INSERT INTO departments (code, name, name_en) VALUES"
              " ('frontline', '一线客服', 'Front-line agents'), ('tech', '技术支持', 'Technical support'),"
              " ('logistics', '物流专员', 'Logistics specialists'), ('risk', '风控专员', 'Risk control')"
              " ON CONFLICT DO NOTHING");
    tf_test_sql (db,
              "INSERT INTO taxonomy (subcategory, code, category, category_code, first_owner, department,"
              "                      response_minutes, resolve_minutes, default_priority, solution_steps) VALUES"
              " ('物流信息更新延迟', 'tracking_delay', '订单物流', 'order_logistics', 'frontline', 'logistics',"
              "  240, 2880, 'P2', '[\"1. 查询物流单号的最新轨迹\", \"2. 联系快递公司核实\", \"3. 告知客户预计时间\"]'),"
              " ('账号被盗', 'account_stolen', '账户安全', 'account_security', 'frontline', 'risk',"
              "  60, 120, 'P1', '[\"1. 立即冻结账号\", \"2. 核实身份\"]'),"
              " ('功能操作', 'how_to', '产品使用', 'product_use', 'frontline', 'frontline',"
              "  15, 60, 'P3', '[\"1. 询问客户当前所在的操作页面\"]'),"
              " ('界面显示异常', 'display_fault', '产品使用', 'product_use', 'frontline', 'tech',"
              "  120, 1440, 'P2', '[\"1. 请客户清除缓存\"]')"
              " ON CONFLICT DO NOTHING");
}

//  A ticket as intake stores it; returns its id and fills no.
static int64_t
s_new_ticket (tf_db_t *db, const char *subject, const char *body, char *no)
{
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_SUBJECT, subject);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C-disp");
    return tf_test_submit_msg (db, &m, no);
}

//  What the classifier would have done (subcategory NULL: none)
static void
s_classify (tf_db_t *db, int64_t id, const char *subcategory, const char *priority)
{
    if (subcategory)
        tf_test_sql (db, "UPDATE tickets SET status = 'classified', status_changed_at = now (), priority = '%s',"
                         " subcategory = '%s', category = coalesce ((SELECT category FROM taxonomy"
                         "                                           WHERE subcategory = '%s'), '未知')"
                         " WHERE id = %lld", priority, subcategory, subcategory, (long long) id);
    else
        tf_test_sql (db, "UPDATE tickets SET status = 'classified', status_changed_at = now (), priority = '%s'"
                         " WHERE id = %lld", priority, (long long) id);
}

static long long
s_history (tf_db_t *db, int64_t id, const char *kind)
{
    return tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = '%s'",
                           (long long) id, kind);
}

//  A department code of this test process (^[a-z_]{2,20}$)
static const char *
s_private_department (void)
{
    static char code [24];
    if (!*code) {
        const char *u = tf_test_unique ();
        size_t o = 0;
        code [o++] = 'q';
        code [o++] = '_';
        size_t len = strlen (u);
        for (size_t i = len > 16? len - 16: 0; i < len && o < 20; i++)
            if (u [i] >= '0' && u [i] <= '9')
                code [o++] = (char) ('a' + (u [i] - '0'));
        code [o] = 0;
    }
    return code;
}

//  --------------------------------------------------------------------------
//  An actor with the two upstream PUSH sockets it pulls from

typedef struct {
    tf_config_t cfg;
    zsock_t *classified, *reopened;     //  stand-ins for classifier and notifier
    char classified_ep [128], reopened_ep [128];
    zactor_t *actor;
    char *endpoint, *publish, *events;
} rig_t;

static void
s_rig_config (rig_t *r)
{
    memset (r, 0, sizeof *r);
    tf_test_config (&r->cfg);
    r->classified = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    r->reopened = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (r->classified && r->reopened);
    zsock_set_sndtimeo (r->classified, 5000);   //  wait for the actor's PULL to connect
    zsock_set_sndtimeo (r->reopened, 5000);
    snprintf (r->classified_ep, sizeof r->classified_ep, "%s", zsock_endpoint (r->classified));
    snprintf (r->reopened_ep, sizeof r->reopened_ep, "%s", zsock_endpoint (r->reopened));
    r->cfg.classifier_events_endpoint = r->classified_ep;
    r->cfg.notifier_reopen_endpoint = r->reopened_ep;
}

static void
s_rig_start (rig_t *r)
{
    r->actor = tf_test_service (&dispatcher_service, &r->cfg, "ENDPOINT", &r->endpoint);
    r->publish = tf_actor_query (r->actor, "PUBLISH");
    r->events = tf_actor_query (r->actor, "EVENTS");
    cr_assert (r->publish && strncmp (r->publish, "tcp://", 6) == 0);
    cr_assert (r->events && strncmp (r->events, "tcp://", 6) == 0);
}

static void
s_rig_stop (rig_t *r)
{
    zactor_destroy (&r->actor);
    zsock_destroy (&r->classified);
    zsock_destroy (&r->reopened);
    zstr_free (&r->endpoint);
    zstr_free (&r->publish);
    zstr_free (&r->events);
}

static zsock_t *
s_sub (const char *endpoint, const char *topic)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    tf_security_client (sub);
    cr_assert (sub);
    zsock_set_subscribe (sub, topic);
    cr_assert_eq (zsock_connect (sub, "%s", endpoint), 0);
    return sub;
}

//  Waits up to timeout_ms for the ticket.assigned of ticket `id` (others are
//  skipped). Returns true with *frames_p / msg / topic filled.
static bool
s_wait_assigned (zsock_t *sub, int64_t id, int timeout_ms, zmsg_t **frames_p, tf_msg_t *msg,
                 char *topic, size_t topic_size)
{
    int64_t until = zclock_mono () + timeout_ms;
    *frames_p = NULL;
    zpoller_t *poller = zpoller_new (sub, NULL);
    bool found = false;
    while (!found && zclock_mono () < until) {
        if (zpoller_wait (poller, (int) (until - zclock_mono ())) != sub)
            break;
        zmsg_t *frames = zmsg_recv (sub);
        cr_assert (frames);
        cr_assert_eq (zmsg_size (frames), 3, "ticket.assigned is [topic, type, body]");
        char *t = zmsg_popstr (frames);
        zframe_t *type = zmsg_first (frames);
        zframe_t *body = zmsg_next (frames);
        tf_error_t err;
        cr_assert_eq (tf_codec_decode (zframe_data (type), zframe_size (type), zframe_data (body),
                                       zframe_size (body), msg, &err), 0, "%s", err.message);
        cr_assert_eq (msg->type, TF_MSG_ASSIGNED);
        if (tf_msg_int (msg, TF_F_ASSIGNED_TICKET_ID) == id) {
            snprintf (topic, topic_size, "%s", t);
            *frames_p = frames;
            found = true;
        }
        else
            zmsg_destroy (&frames);
        zstr_free (&t);
    }
    zpoller_destroy (&poller);
    return found;
}

static bool
s_str_is (const tf_msg_t *m, tf_field_id_t f, const char *s)
{
    return m->v [f].present && m->v [f].len == strlen (s) && memcmp (m->v [f].str, s, m->v [f].len) == 0;
}

//  Sends a request; the reply must be well-formed. Caller destroys *frames.
static void
s_request (const char *endpoint, tf_msg_t *request, zmsg_t **frames, tf_msg_t *reply)
{
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, request, 5000, frames, reply, &err), 0, "%s", err.message);
    tf_msg_clear (request);
}

static void
s_expect_error (const tf_msg_t *reply, const char *code, const char *field, const char *message_part)
{
    cr_assert_eq (reply->type, TF_MSG_ERROR);
    cr_assert (s_str_is (reply, TF_F_ERROR_CODE, code), "expected %s, got %.*s: %.*s", code,
               (int) reply->v [TF_F_ERROR_CODE].len, reply->v [TF_F_ERROR_CODE].str,
               (int) reply->v [TF_F_ERROR_MESSAGE].len, reply->v [TF_F_ERROR_MESSAGE].str);
    if (field)
        cr_assert (s_str_is (reply, TF_F_ERROR_FIELD, field));
    if (message_part) {
        char message [1100];
        snprintf (message, sizeof message, "%.*s", (int) reply->v [TF_F_ERROR_MESSAGE].len,
                  reply->v [TF_F_ERROR_MESSAGE].str);
        cr_assert (strstr (message, message_part), "'%s' does not say '%s'", message, message_part);
    }
}

static void
s_accept_msg (tf_msg_t *m, const char *no, const char *agent)
{
    tf_msg_init (m, TF_MSG_ACCEPT);
    tf_msg_set_cstr (m, TF_F_ACCEPT_TICKET_NO, no);
    tf_msg_set_cstr (m, TF_F_ACCEPT_AGENT, agent);
}

static void
s_transfer_msg (tf_msg_t *m, const char *no, const char *department, const char *reason, const char *actor)
{
    tf_msg_init (m, TF_MSG_TRANSFER);
    tf_msg_set_cstr (m, TF_F_TRANSFER_TICKET_NO, no);
    tf_msg_set_cstr (m, TF_F_TRANSFER_DEPARTMENT, department);
    tf_msg_set_cstr (m, TF_F_TRANSFER_REASON, reason);
    tf_msg_set_cstr (m, TF_F_TRANSFER_ACTOR, actor);
}

//  --------------------------------------------------------------------------
//  Direct calls

Test (dispatcher, routes_by_the_taxonomy)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    tf_db_t *ddb = tf_test_db ();
    dispatcher_t *d = dispatcher_new (ddb);
    cr_assert (d);
    //  a long body without subject: the subject is its start, masked, cut on a character
    char body [1200] = "";
    for (int i = 0; i < 60; i++)
        strcat (body, "快递");
    strcat (body, " 电话13812345678");
    const char *subs [] = { "物流信息更新延迟", "账号被盗", "功能操作", "不存在的子类", NULL };
    const char *prio [] = { "P2", "P1", "P3", "P2", "P3" };
    int64_t ids [5];
    char nos [5][32];
    for (int i = 0; i < 5; i++) {
        ids [i] = s_new_ticket (db, i == 1? "我的账号 13812345678 被盗了": NULL,
                                i == 0? body: "问题描述 13912345678", nos [i]);
        s_classify (db, ids [i], subs [i], prio [i]);
    }
    dispatcher_assignment_t out [5];
    cr_assert_eq (dispatcher_assign (d, ids, 5, out), 5);
    for (int i = 0; i < 5; i++) {
        dispatcher_assignment_t *a = NULL;
        for (int k = 0; k < 5; k++)
            if (out [k].ticket_id == ids [i])
                a = &out [k];
        cr_assert (a, "ticket %d not in the result", i);
        cr_assert_str_eq (a->ticket_no, nos [i]);
        cr_assert_str_eq (a->priority, prio [i]);
        cr_assert_str_eq (a->assignee, "");
        char expected [64] = "frontline";
        if (i < 3) {
            //  the first owner the taxonomy table names (the front line), whoever loaded it
            PGresult *res = tf_db_query (db, "SELECT first_owner FROM taxonomy WHERE subcategory = $1",
                                         1, (const char *[]) { subs [i] });
            cr_assert (tf_db_ok (db, res, "taxonomy") && PQntuples (res) == 1);
            snprintf (expected, sizeof expected, "%s", PQgetvalue (res, 0, 0));
            PQclear (res);
            cr_assert_str_eq (a->subcategory, subs [i]);
            cr_assert (a->steps, "solution steps expected for %s", subs [i]);
            //  the steps as a msgpack array of the taxonomy's strings
            msgpack_unpacked u;
            msgpack_unpacked_init (&u);
            cr_assert_eq (msgpack_unpack_next (&u, (const char *) a->steps, a->steps_size, NULL),
                          MSGPACK_UNPACK_SUCCESS);
            cr_assert_eq (u.data.type, MSGPACK_OBJECT_ARRAY);
            cr_assert_eq ((long long) u.data.via.array.size,
                          tf_test_scalar (db, "SELECT jsonb_array_length (solution_steps) FROM taxonomy"
                                              " WHERE subcategory = '%s'", subs [i]));
            msgpack_object first = u.data.via.array.ptr [0];
            cr_assert_eq (first.type, MSGPACK_OBJECT_STR);
            cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM taxonomy WHERE subcategory = '%s'"
                                              " AND solution_steps->>0 = '%.*s'", subs [i],
                                          (int) first.via.str.size, first.via.str.ptr), 1);
            msgpack_unpacked_destroy (&u);
        }
        else
            cr_assert_null (a->steps);
        cr_assert_str_eq (a->department, expected);
        cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'"
                                          " AND department = '%s'", (long long) ids [i], expected), 1);
        cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                          " AND kind = 'assigned' AND from_status = 'classified'"
                                          " AND to_status = 'assigned' AND actor = 'dispatcher'"
                                          " AND data->>'department' = '%s'", (long long) ids [i], expected), 1);
        //  the subject: masked, never a cut character
        cr_assert (tf_utf8_valid (a->subject, strlen (a->subject)));
        cr_assert_leq (strlen (a->subject), 200);
        cr_assert_null (strstr (a->subject, "13812345678"));
        cr_assert_null (strstr (a->subject, "13912345678"));
    }
    //  subject or body start
    for (int k = 0; k < 5; k++) {
        if (out [k].ticket_id == ids [0]) {
            cr_assert (strncmp (out [k].subject, "快递快递", 12) == 0);
            cr_assert_geq (strlen (out [k].subject), 198, "about 100 characters (at most 200 bytes)");
        }
        if (out [k].ticket_id == ids [1])
            cr_assert_str_eq (out [k].subject, "我的账号 138****5678 被盗了");
    }
    //  the fallback says why in the history
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'assigned'"
                                      " AND note LIKE '%%不存在的子类%%not in the taxonomy%%frontline%%'",
                                  (long long) ids [3]), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'assigned'"
                                      " AND note LIKE 'no sub-category%%frontline%%'", (long long) ids [4]), 1);
    //  the event built from an assignment
    for (int k = 0; k < 5; k++) {
        if (out [k].ticket_id != ids [0])
            continue;
        tf_msg_t event;
        char topic [48];
        dispatcher_assignment_event (&out [k], &event, topic, sizeof topic);
        cr_assert_str_eq (topic, "frontline.");
        cr_assert_str_eq (out [k].second_line, "logistics");
        zmsg_t *frames = zmsg_new ();
        tf_error_t err;
        cr_assert_eq (tf_codec_encode (&event, frames, &err), 0, "%s", err.message);
        zmsg_destroy (&frames);
        tf_msg_clear (&event);
    }
    for (int k = 0; k < 5; k++)
        dispatcher_assignment_clear (&out [k]);
    dispatcher_destroy (&d);
    tf_db_destroy (&ddb);
    tf_db_destroy (&db);
}

Test (dispatcher, repeated_event_changes_nothing)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    tf_db_t *ddb = tf_test_db ();
    dispatcher_t *d = dispatcher_new (ddb);
    int64_t id = s_new_ticket (db, "查不到物流", "三天没有物流更新", NULL);
    int64_t received = s_new_ticket (db, NULL, "还没分类", NULL);
    s_classify (db, id, "物流信息更新延迟", "P2");
    dispatcher_assignment_t out [2];
    int64_t both [] = { id, received };
    cr_assert_eq (dispatcher_assign (d, both, 2, out), 1);
    cr_assert_eq (out [0].ticket_id, id);
    dispatcher_assignment_clear (&out [0]);
    //  the same event again, and a late reconciler pass
    cr_assert_eq (dispatcher_assign (d, &id, 1, out), 0);
    cr_assert_eq (dispatcher_assign (d, &id, 1, out), 0);
    cr_assert_eq (s_history (db, id, "assigned"), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'received'"
                                      " AND department IS NULL", (long long) received), 1);
    cr_assert_eq (s_history (db, received, "assigned"), 0);
    dispatcher_destroy (&d);
    tf_db_destroy (&ddb);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The actor

//  The committed moves of one kind of a dispatcher actor
static double
s_moves (zactor_t *actor, const char *move)
{
    char series [128];
    snprintf (series, sizeof series, "ticketflow_ticket_moves_total{service=\"dispatcher\",move=\"%s\"}", move);
    return tf_test_metric (actor, series);
}

Test (dispatcher, publishes_to_the_department_topic_only)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    rig_t r;
    s_rig_config (&r);
    r.cfg.stale_seconds = 86400;    //  no other test's ticket: its counters are this ticket's
    s_rig_start (&r);
    zsock_t *logistics = s_sub (r.publish, "frontline.");
    zclock_sleep (300);         //  let the subscription arrive before the event
    char no [32];
    int64_t id = s_new_ticket (db, "物流三天没动", "订单号 202310270001 三天没有物流更新", no);
    s_classify (db, id, "物流信息更新延迟", "P2");
    //  the event twice: at-least-once delivery
    cr_assert_eq (tf_net_send_ticket_event (r.classified, TF_MSG_CLASSIFIED, id, no), 0);
    cr_assert_eq (tf_net_send_ticket_event (r.classified, TF_MSG_CLASSIFIED, id, no), 0);
    zmsg_t *frames;
    tf_msg_t event;
    char topic [64];
    //  to the front line first, which hands over to logistics when the steps fail
    cr_assert (s_wait_assigned (logistics, id, 5000, &frames, &event, topic, sizeof topic),
               "no ticket.assigned on frontline.");
    cr_assert_str_eq (topic, "frontline.");
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_DEPARTMENT, "frontline"));
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_SECOND_LINE, "logistics"));
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_TICKET_NO, no));
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_SUBCATEGORY, "物流信息更新延迟"));
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_CATEGORY, "订单物流"));
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_PRIORITY, "P2"));
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_SUBJECT, "物流三天没动"));
    cr_assert_not (tf_msg_has (&event, TF_F_ASSIGNED_ASSIGNEE));
    cr_assert (tf_msg_has (&event, TF_F_ASSIGNED_SOLUTION_STEPS));
    cr_assert_eq (event.v [TF_F_ASSIGNED_SOLUTION_STEPS].i,
                  tf_test_scalar (db, "SELECT jsonb_array_length (solution_steps) FROM taxonomy"
                                      " WHERE subcategory = '物流信息更新延迟'"));
    //  the standard phrases travel with it too
    long long phrase_count = tf_test_scalar (db, "SELECT count(*) FROM taxonomy, jsonb_object_keys (phrases)"
                                                 " WHERE subcategory = '物流信息更新延迟'");
    if (phrase_count > 0) {
        cr_assert (tf_msg_has (&event, TF_F_ASSIGNED_PHRASES));
        json_t *phrases = tf_json_from_msgpack (event.v [TF_F_ASSIGNED_PHRASES].str,
                                                event.v [TF_F_ASSIGNED_PHRASES].len);
        cr_assert (json_is_object (phrases));
        cr_assert_eq ((long long) json_object_size (phrases), phrase_count);
        json_decref (phrases);
    }
    zmsg_destroy (&frames);
    //  published after the commit: the database says so already
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'"
                                      " AND department = 'frontline'", (long long) id), 1);
    //  both events were handled: the repeat changed nothing and published
    //  nothing; the one publication went to the front line, so the risk desk saw nothing
    cr_assert_eq (tf_test_wait_handled (r.actor, "ticketflow_messages_received_total"
                                        "{service=\"dispatcher\",type=\"ticket.classified\"}", 2, 5000), 2);
    cr_assert_eq (s_history (db, id, "assigned"), 1);
    cr_assert_eq (s_moves (r.actor, "ASSIGN"), 1);
    cr_assert_eq (tf_test_metric (r.actor, "ticketflow_messages_sent_total{service=\"dispatcher\",type=\"ticket.assigned\"}"),
                  1, "published twice");
    zsock_destroy (&logistics);
    s_rig_stop (&r);
    tf_db_destroy (&db);
}

//  Unpacks queue.items' tickets and returns the ticket numbers in order.
static int
s_queue (const char *endpoint, const char *department, const char *status, int limit,
         char numbers [][32], int cap, msgpack_unpacked *u, zmsg_t **keep)
{
    tf_msg_t req, reply;
    tf_msg_init (&req, TF_MSG_QUEUE_LIST);
    tf_msg_set_cstr (&req, TF_F_QUEUE_LIST_DEPARTMENT, department);
    tf_msg_set_cstr (&req, TF_F_QUEUE_LIST_STATUS, status);
    if (limit)
        tf_msg_set_int (&req, TF_F_QUEUE_LIST_LIMIT, limit);
    zmsg_t *frames;
    s_request (endpoint, &req, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_QUEUE_ITEMS, "queue.list answered %s", tf_schemas [reply.type].name);
    cr_assert (s_str_is (&reply, TF_F_QUEUE_ITEMS_DEPARTMENT, department? department: "triage"));
    const tf_value_t *v = &reply.v [TF_F_QUEUE_ITEMS_TICKETS];
    msgpack_unpacked_init (u);
    //  strings of u point into the frames: the caller keeps them
    cr_assert_eq (msgpack_unpack_next (u, v->str, v->len, NULL), MSGPACK_UNPACK_SUCCESS);
    *keep = frames;
    cr_assert_eq (u->data.type, MSGPACK_OBJECT_ARRAY);
    int n = (int) u->data.via.array.size;
    for (int i = 0; i < n && i < cap; i++) {
        msgpack_object_map *map = &u->data.via.array.ptr [i].via.map;
        cr_assert_eq (u->data.via.array.ptr [i].type, MSGPACK_OBJECT_MAP);
        cr_assert_eq (map->size, 11);
        cr_assert_eq (map->ptr [0].val.type, MSGPACK_OBJECT_STR);
        snprintf (numbers [i], 32, "%.*s", (int) map->ptr [0].val.via.str.size, map->ptr [0].val.via.str.ptr);
    }
    return n;
}

static msgpack_object *
s_field (msgpack_object *item, const char *key)
{
    for (uint32_t i = 0; i < item->via.map.size; i++) {
        msgpack_object_kv *kv = &item->via.map.ptr [i];
        if (kv->key.via.str.size == strlen (key) && memcmp (kv->key.via.str.ptr, key, strlen (key)) == 0)
            return &kv->val;
    }
    cr_assert_fail ("no key %s", key);
    return NULL;
}

Test (dispatcher, queue_list_most_urgent_first_and_catch_up)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    //  a department and sub-category of this test alone
    const char *dept = s_private_department ();
    char sub [96];
    snprintf (sub, sizeof sub, "队列测试-%s", tf_test_unique ());
    tf_test_sql (db, "INSERT INTO departments (code, name) VALUES ('%s', '测试部') ON CONFLICT DO NOTHING", dept);
    tf_test_sql (db, "INSERT INTO taxonomy (subcategory, code, category, category_code, first_owner, department,"
                     " response_minutes, resolve_minutes, default_priority) VALUES"
                     " ('%s', 'qtest-%s', '测试', 'test', '%s', '%s', 15, 60, 'P2') ON CONFLICT DO NOTHING",
                 sub, tf_test_unique (), dept, dept);
    char no [7][32];
    int64_t id [7];
    for (int i = 0; i < 6; i++)
        id [i] = s_new_ticket (db, NULL, "排队的问题", no [i]);
    //  expected order: 1 (P1), 2 (P2, due in 30 min), 0 (P2, due in 1 h, older), 5 (same, newer), 3 (P3)
    const char *set [] = {
        "status = 'assigned', priority = 'P2', response_due_at = now () + interval '1 hour', created_at = now () - interval '10 min'",
        "status = 'accepted', priority = 'P1', response_due_at = now () + interval '2 hour', assignee = 'agent-a1'",
        "status = 'in_progress', priority = 'P2', response_due_at = now () + interval '30 min'",
        "status = 'assigned', priority = 'P3', response_due_at = NULL",
        "status = 'resolved', priority = 'P1', response_due_at = now ()",
        "status = 'assigned', priority = 'P2', response_due_at = now () + interval '1 hour', created_at = now () - interval '5 min'",
    };
    for (int i = 0; i < 6; i++)
        tf_test_sql (db, "UPDATE tickets SET %s, department = '%s', subcategory = '%s', category = '测试'"
                         " WHERE id = %lld", set [i], dept, sub, (long long) id [i]);
    //  the response deadlines must be equal for 0 and 5
    tf_test_sql (db, "UPDATE tickets SET response_due_at = (SELECT response_due_at FROM tickets WHERE id = %lld)"
                     " WHERE id = %lld", (long long) id [0], (long long) id [5]);
    rig_t r;
    s_rig_config (&r);
    s_rig_start (&r);
    char got [10][32];
    msgpack_unpacked u;
    zmsg_t *keep;
    cr_assert_eq (s_queue (r.endpoint, dept, NULL, 0, got, 10, &u, &keep), 5);
    const int order [] = { 1, 2, 0, 5, 3 };
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq (got [i], no [order [i]], "position %d", i);
    //  the fields of the first and the last
    msgpack_object *first = &u.data.via.array.ptr [0], *last = &u.data.via.array.ptr [4];
    cr_assert_eq (s_field (first, "ticket_id")->via.i64, id [1]);
    cr_assert_eq (s_field (first, "assignee")->type, MSGPACK_OBJECT_STR);
    cr_assert_eq (s_field (first, "assignee")->via.str.size, 8);
    cr_assert_eq (memcmp (s_field (first, "status")->via.str.ptr, "accepted", 8), 0);
    cr_assert_eq (memcmp (s_field (first, "priority")->via.str.ptr, "P1", 2), 0);
    msgpack_object *due = s_field (first, "response_due_at");
    cr_assert_eq (due->type, MSGPACK_OBJECT_STR);
    int64_t epoch;
    cr_assert_eq (tf_time_parse (due->via.str.ptr, due->via.str.size, &epoch), 0, "%.*s",
                  (int) due->via.str.size, due->via.str.ptr);
    cr_assert_gt (epoch, (int64_t) time (NULL) + 3600);
    msgpack_object *created = s_field (first, "created_at");
    cr_assert_eq (tf_time_parse (created->via.str.ptr, created->via.str.size, &epoch), 0);
    cr_assert_eq (s_field (last, "response_due_at")->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq (s_field (last, "assignee")->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq (s_field (last, "resolve_due_at")->type, MSGPACK_OBJECT_NIL);
    cr_assert_eq (memcmp (s_field (last, "subject")->via.str.ptr, "排队的问题", 15), 0);
    msgpack_unpacked_destroy (&u);
    zmsg_destroy (&keep);
    //  one status, and a limit
    cr_assert_eq (s_queue (r.endpoint, dept, "resolved", 0, got, 10, &u, &keep), 1);
    cr_assert_str_eq (got [0], no [4]);
    msgpack_unpacked_destroy (&u);
    zmsg_destroy (&keep);
    cr_assert_eq (s_queue (r.endpoint, dept, NULL, 2, got, 10, &u, &keep), 2);
    cr_assert_str_eq (got [0], no [1]);
    cr_assert_str_eq (got [1], no [2]);
    msgpack_unpacked_destroy (&u);
    zmsg_destroy (&keep);

    //  catch-up: assigned while nobody listened; queue.list shows it
    id [6] = s_new_ticket (db, "没人订阅", "没人订阅的时候分配", no [6]);
    s_classify (db, id [6], sub, "P3");
    cr_assert_eq (tf_net_send_ticket_event (r.classified, TF_MSG_CLASSIFIED, id [6], no [6]), 0);
    for (int i = 0; i < 100 && tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'",
                                                (long long) id [6]) == 0; i++)
        zclock_sleep (50);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'"
                                      " AND department = '%s'", (long long) id [6], dept), 1);
    int n = s_queue (r.endpoint, dept, "assigned", 0, got, 10, &u, &keep);
    cr_assert_eq (n, 4);
    cr_assert_str_eq (got [3], no [6], "the new P3 ticket comes last (created after the other P3)");
    msgpack_unpacked_destroy (&u);
    zmsg_destroy (&keep);

    //  an unknown department is refused
    tf_msg_t req, reply;
    zmsg_t *frames;
    tf_msg_init (&req, TF_MSG_QUEUE_LIST);
    tf_msg_set_cstr (&req, TF_F_QUEUE_LIST_DEPARTMENT, "no_such_department");
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_BAD_VALUE, "department", "no_such_department");
    zmsg_destroy (&frames);
    s_rig_stop (&r);
    tf_db_destroy (&db);
}

//  Triage tickets have no department yet: status triage without one lists
//  them all, most urgent first; any other status needs a department
Test (dispatcher, queue_list_triage_without_a_department)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    char no [4][32];
    int64_t id [4];
    for (int i = 0; i < 4; i++)
        id [i] = s_new_ticket (db, NULL, "说不清是哪一类的问题", no [i]);
    //  P1 and deadlines long past: these come before any other test's triage tickets
    const char *set [] = {
        "status = 'triage', priority = 'P1', response_due_at = '2000-01-01 12:00+08'",
        "status = 'triage', priority = 'P1', response_due_at = '2000-01-01 11:00+08'",
        "status = 'triage', priority = 'P1', response_due_at = '2000-01-01 10:00+08'",
        "status = 'received', priority = 'P1', response_due_at = '2000-01-01 09:00+08'",
    };
    for (int i = 0; i < 4; i++)
        tf_test_sql (db, "UPDATE tickets SET %s, status_changed_at = now () WHERE id = %lld", set [i], (long long) id [i]);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id IN (%lld, %lld, %lld)"
                                      " AND department IS NULL", (long long) id [0], (long long) id [1],
                                  (long long) id [2]), 3);
    rig_t r;
    s_rig_config (&r);
    s_rig_start (&r);
    static char got [1000][32];
    msgpack_unpacked u;
    zmsg_t *keep;
    int n = s_queue (r.endpoint, NULL, "triage", 1000, got, 1000, &u, &keep);
    cr_assert_geq (n, 3);
    //  most urgent first: ours in deadline order (earlier runs against the
    //  same database may have left tickets just like them)
    int at [3] = { -1, -1, -1 };
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (streq (got [i], no [k]))
                at [k] = i;
    cr_assert (at [0] >= 0 && at [1] >= 0 && at [2] >= 0, "a triage ticket is missing from the list");
    cr_assert (at [2] < at [1] && at [1] < at [0], "not most urgent first: %d %d %d", at [2], at [1], at [0]);
    for (int i = 0; i < n; i++) {
        msgpack_object *status = s_field (&u.data.via.array.ptr [i], "status");
        cr_assert (status->via.str.size == 6 && memcmp (status->via.str.ptr, "triage", 6) == 0,
                   "item %d is not in triage", i);
    }
    msgpack_unpacked_destroy (&u);
    zmsg_destroy (&keep);
    //  a department's triage list: none of these, they have no department
    char all [1000][32];
    n = s_queue (r.endpoint, "logistics", "triage", 1000, all, 1000, &u, &keep);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            cr_assert_str_neq (all [i], no [k]);
    msgpack_unpacked_destroy (&u);
    zmsg_destroy (&keep);
    //  no department and no status, or another status: refused
    const char *statuses [] = { NULL, "assigned" };
    for (int i = 0; i < 2; i++) {
        tf_msg_t req, reply;
        zmsg_t *frames;
        tf_msg_init (&req, TF_MSG_QUEUE_LIST);
        tf_msg_set_cstr (&req, TF_F_QUEUE_LIST_STATUS, statuses [i]);
        s_request (r.endpoint, &req, &frames, &reply);
        s_expect_error (&reply, TF_ERR_MISSING_FIELD, "department", "unless status is triage");
        zmsg_destroy (&frames);
    }
    s_rig_stop (&r);
    tf_db_destroy (&db);
}

Test (dispatcher, accept_claims_and_refuses_the_wrong_ticket)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    rig_t r;
    s_rig_config (&r);
    s_rig_start (&r);
    zsock_t *pull = tf_test_pull (r.events);
    zsock_set_rcvtimeo (pull, 5000);
    char no [32], resolved_no [32];
    int64_t id = s_new_ticket (db, NULL, "界面图片加载不出来", no);
    s_classify (db, id, "界面显示异常", "P2");
    tf_db_t *ddb = tf_test_db ();
    dispatcher_t *d = dispatcher_new (ddb);
    dispatcher_assignment_t a;
    cr_assert_eq (dispatcher_assign (d, &id, 1, &a), 1);
    dispatcher_assignment_clear (&a);

    tf_msg_t req, reply;
    zmsg_t *frames;
    s_accept_msg (&req, no, "agent-007");
    s_request (r.endpoint, &req, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_UPDATED, "got %s", tf_schemas [reply.type].name);
    cr_assert (s_str_is (&reply, TF_F_UPDATED_STATUS, "accepted"));
    cr_assert (s_str_is (&reply, TF_F_UPDATED_TICKET_NO, no));
    zmsg_destroy (&frames);
    //  ticket.claimed for sla
    zmsg_t *event_frames;
    tf_msg_t event;
    tf_error_t err;
    cr_assert_eq (tf_net_recv_event (pull, false, &event_frames, &event, &err), 0, "%s", err.message);
    cr_assert_eq (event.type, TF_MSG_CLAIMED);
    cr_assert_eq (tf_msg_int (&event, TF_F_CLAIMED_TICKET_ID), id);
    cr_assert (s_str_is (&event, TF_F_CLAIMED_TICKET_NO, no));
    zmsg_destroy (&event_frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'accepted'"
                                      " AND assignee = 'agent-007' AND accepted_at IS NOT NULL"
                                      " AND first_response_at IS NOT NULL", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'accepted'"
                                      " AND from_status = 'assigned' AND to_status = 'accepted'"
                                      " AND actor = 'agent-007'", (long long) id), 1);
    long long events_before = tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld",
                                              (long long) id);
    //  again: the ticket is no longer assigned
    s_accept_msg (&req, no, "agent-008");
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_ILLEGAL_TRANSITION, NULL, "accepted");
    zmsg_destroy (&frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND assignee = 'agent-007'",
                                  (long long) id), 1);
    //  unknown ticket
    s_accept_msg (&req, "CS209901019999", "agent-007");
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_NOT_FOUND, NULL, NULL);
    zmsg_destroy (&frames);
    //  a resolved ticket: refused, naming its status, nothing changes
    int64_t resolved = s_new_ticket (db, NULL, "早就解决了", resolved_no);
    tf_test_sql (db, "UPDATE tickets SET status = 'resolved', department = 'tech', assignee = 'agent-1'"
                     " WHERE id = %lld", (long long) resolved);
    s_accept_msg (&req, resolved_no, "agent-007");
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_ILLEGAL_TRANSITION, NULL, "resolved");
    zmsg_destroy (&frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'resolved'"
                                      " AND assignee = 'agent-1' AND accepted_at IS NULL", (long long) resolved), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld",
                                  (long long) resolved), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld",
                                  (long long) id), events_before);
    //  a blank agent
    s_accept_msg (&req, no, "   ");
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_BAD_VALUE, "agent", NULL);
    zmsg_destroy (&frames);
    //  no claim went out for any refusal (each was answered, and its claim
    //  would have gone before the loop went round for the metrics)
    cr_assert_eq (tf_test_metric (r.actor, "ticketflow_messages_sent_total{service=\"dispatcher\",type=\"ticket.claimed\"}"), 1);
    dispatcher_destroy (&d);
    tf_db_destroy (&ddb);
    zsock_destroy (&pull);
    s_rig_stop (&r);
    tf_db_destroy (&db);
}

Test (dispatcher, transfer_assigns_to_the_new_department)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    rig_t r;
    s_rig_config (&r);
    s_rig_start (&r);
    zsock_t *tech = s_sub (r.publish, "tech.");
    zclock_sleep (300);
    char no [32];
    int64_t id = s_new_ticket (db, "优惠券在哪", "不知道怎么用优惠券, APP 也打不开图片", no);
    s_classify (db, id, "功能操作", "P3");
    tf_db_t *ddb = tf_test_db ();
    dispatcher_t *d = dispatcher_new (ddb);
    dispatcher_assignment_t a;
    cr_assert_eq (dispatcher_assign (d, &id, 1, &a), 1);
    dispatcher_assignment_clear (&a);
    tf_msg_t req, reply;
    zmsg_t *frames;
    s_accept_msg (&req, no, "agent-fl");
    s_request (r.endpoint, &req, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_UPDATED);
    zmsg_destroy (&frames);
    char from [40], id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    PGresult *res = tf_db_query (db, "SELECT department FROM tickets WHERE id = $1", 1,
                                 (const char *[]) { id_text });
    cr_assert (tf_db_ok (db, res, "department") && PQntuples (res) == 1);
    snprintf (from, sizeof from, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);

    //  an unknown department: refused, nothing changes
    s_transfer_msg (&req, no, "nowhere", "试试", NULL);
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_BAD_VALUE, "department", NULL);
    zmsg_destroy (&frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'accepted'"
                                      " AND assignee = 'agent-fl'", (long long) id), 1);
    cr_assert_eq (s_history (db, id, "transferred"), 0);
    //  to tech, with a reason that holds a phone number
    s_transfer_msg (&req, no, "tech", "图片加载是技术问题, 客户电话 13812345678", "agent-fl");
    s_request (r.endpoint, &req, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_UPDATED, "got %s", tf_schemas [reply.type].name);
    cr_assert (s_str_is (&reply, TF_F_UPDATED_STATUS, "assigned"));
    zmsg_destroy (&frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'"
                                      " AND department = 'tech' AND assignee IS NULL", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'transferred' AND from_status = 'accepted' AND to_status = 'assigned'"
                                      " AND actor = 'agent-fl' AND note LIKE '图片加载是技术问题%%138****5678'"
                                      " AND data->>'department' = 'tech' AND data->>'from_department' = '%s'"
                                      " AND data->>'previous_assignee' = 'agent-fl'",
                                  (long long) id, from), 1);
    zmsg_t *event_frames;
    tf_msg_t event;
    char topic [64];
    cr_assert (s_wait_assigned (tech, id, 5000, &event_frames, &event, topic, sizeof topic));
    cr_assert_str_eq (topic, "tech.");
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_DEPARTMENT, "tech"));
    cr_assert_not (tf_msg_has (&event, TF_F_ASSIGNED_ASSIGNEE));
    zmsg_destroy (&event_frames);
    //  tech accepts it; transfer of a resolved or unknown ticket is refused
    s_accept_msg (&req, no, "agent-tech");
    s_request (r.endpoint, &req, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_UPDATED);
    zmsg_destroy (&frames);
    tf_test_sql (db, "UPDATE tickets SET status = 'resolved' WHERE id = %lld", (long long) id);
    s_transfer_msg (&req, no, "frontline", "回去", NULL);
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_ILLEGAL_TRANSITION, NULL, "resolved");
    zmsg_destroy (&frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND department = 'tech'"
                                      " AND assignee = 'agent-tech'", (long long) id), 1);
    s_transfer_msg (&req, "CS209901019999", "tech", "回去", NULL);
    s_request (r.endpoint, &req, &frames, &reply);
    s_expect_error (&reply, TF_ERR_NOT_FOUND, NULL, NULL);
    zmsg_destroy (&frames);
    cr_assert_eq (s_history (db, id, "transferred"), 1);
    dispatcher_destroy (&d);
    tf_db_destroy (&ddb);
    zsock_destroy (&tech);
    s_rig_stop (&r);
    tf_db_destroy (&db);
}

Test (dispatcher, reopened_goes_back_to_the_same_agent)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    rig_t r;
    s_rig_config (&r);
    s_rig_start (&r);
    zsock_t *front = s_sub (r.publish, "frontline.");
    zsock_t *risk = s_sub (r.publish, "risk.");
    zclock_sleep (300);
    char no [32];
    int64_t id = s_new_ticket (db, "账号被盗", "有陌生设备登录我的账号", no);
    s_classify (db, id, "账号被盗", "P1");
    cr_assert_eq (tf_net_send_ticket_event (r.classified, TF_MSG_CLASSIFIED, id, no), 0);
    zmsg_t *frames;
    tf_msg_t event, req, reply;
    char topic [64];
    cr_assert (s_wait_assigned (front, id, 5000, &frames, &event, topic, sizeof topic));
    zmsg_destroy (&frames);
    s_accept_msg (&req, no, "agent-risk-1");
    s_request (r.endpoint, &req, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_UPDATED);
    zmsg_destroy (&frames);
    //  handled, resolved, and the customer says it is not solved (notifier's part)
    //  (by risk control, the second line the front line handed it to)
    tf_test_sql (db, "UPDATE tickets SET status = 'reopened', status_changed_at = now (), reopen_count = reopen_count + 1,"
                     " department = 'risk' WHERE id = %lld", (long long) id);
    cr_assert_eq (tf_net_send_ticket_event (r.reopened, TF_MSG_REOPENED, id, no), 0);
    cr_assert (s_wait_assigned (risk, id, 5000, &frames, &event, topic, sizeof topic),
               "no ticket.assigned for the reopened ticket");
    cr_assert_str_eq (topic, "risk.");
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_ASSIGNEE, "agent-risk-1"));
    cr_assert (s_str_is (&event, TF_F_ASSIGNED_DEPARTMENT, "risk"));
    zmsg_destroy (&frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'"
                                      " AND department = 'risk' AND assignee = 'agent-risk-1'", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'assigned' AND from_status = 'reopened'"
                                      " AND note LIKE '%%back to agent agent-risk-1%%'"
                                      " AND data->>'assignee' = 'agent-risk-1'", (long long) id), 1);
    cr_assert_eq (s_history (db, id, "assigned"), 2);
    //  and the agent takes it again the same way
    s_accept_msg (&req, no, "agent-risk-1");
    s_request (r.endpoint, &req, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_UPDATED);
    zmsg_destroy (&frames);
    cr_assert_eq (s_history (db, id, "accepted"), 2);
    zsock_destroy (&risk);
    zsock_destroy (&front);
    s_rig_stop (&r);
    tf_db_destroy (&db);
}

//  Two dispatchers (objects, each on a connection of its own) take the same
//  300 ids at once from two threads, a batch at a time, each batch locked
//  with SKIP LOCKED: every ticket is assigned once, by one of them.
#define SAME_IDS 300
#define SAME_BATCH 25

typedef struct {
    dispatcher_t *dispatcher;
    const int64_t *ids;
    pthread_barrier_t *start;
    int moved;
    int failed;
} taker_t;

static void *
s_taker (void *arg)
{
    taker_t *self = arg;
    dispatcher_assignment_t out [SAME_BATCH];
    pthread_barrier_wait (self->start);
    for (int i = 0; i < SAME_IDS; i += SAME_BATCH) {
        int n = dispatcher_assign (self->dispatcher, self->ids + i, SAME_BATCH, out);
        if (n < 0)
            self->failed++;
        for (int k = 0; k < n; k++)
            dispatcher_assignment_clear (&out [k]);
        self->moved += n > 0? n: 0;
    }
    return NULL;
}

Test (dispatcher, two_dispatchers_on_the_same_ids_assign_each_once)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    //  the tickets in one intake batch, then classified over four sub-categories
    char tag [96];
    snprintf (tag, sizeof tag, "same-%s", tf_test_unique ());
    intake_t *intake = intake_new (db);
    cr_assert (intake);
    static tf_msg_t msgs [SAME_IDS];
    static const tf_msg_t *batch [SAME_IDS];
    static intake_result_t results [SAME_IDS];
    int64_t ids [SAME_IDS];
    for (int i = 0; i < SAME_IDS; i++) {
        char ext [128];
        snprintf (ext, sizeof ext, "%s-%d", tag, i);
        tf_msg_init (&msgs [i], TF_MSG_SUBMIT);
        tf_msg_set_cstr (&msgs [i], TF_F_SUBMIT_CHANNEL, "app");
        tf_msg_set_cstr (&msgs [i], TF_F_SUBMIT_BODY, "两个调度一起抢");
        tf_msg_set_cstr (&msgs [i], TF_F_SUBMIT_EXTERNAL_ID, ext);
        tf_msg_set_cstr (&msgs [i], TF_F_CUSTOMER_ID, "C-disp");
        batch [i] = &msgs [i];
    }
    cr_assert_eq (intake_submit (intake, batch, SAME_IDS, results), 0);
    for (int i = 0; i < SAME_IDS; i++) {
        cr_assert (results [i].ok);
        ids [i] = results [i].ticket_id;
        tf_msg_clear (&msgs [i]);
    }
    intake_destroy (&intake);
    tf_test_sql (db, "UPDATE tickets t SET status = 'classified', status_changed_at = now (), priority = 'P2',"
                     " subcategory = s.sub, category = coalesce ((SELECT category FROM taxonomy x"
                     "                                            WHERE x.subcategory = s.sub), '未知')"
                     " FROM (SELECT id, (ARRAY ['物流信息更新延迟', '账号被盗', '功能操作', '界面显示异常'])"
                     "              [1 + id %% 4] AS sub FROM tickets WHERE external_id LIKE '%s-%%') s"
                     " WHERE t.id = s.id", tag);

    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, 2);
    tf_db_t *conn [2];
    taker_t takers [2];
    pthread_t threads [2];
    for (int k = 0; k < 2; k++) {
        conn [k] = tf_test_db ();
        takers [k] = (taker_t) { .dispatcher = dispatcher_new (conn [k]), .ids = ids, .start = &start };
        cr_assert (takers [k].dispatcher);
    }
    for (int k = 0; k < 2; k++)
        pthread_create (&threads [k], NULL, s_taker, &takers [k]);
    for (int k = 0; k < 2; k++)
        pthread_join (threads [k], NULL);
    pthread_barrier_destroy (&start);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq (takers [k].failed, 0, "dispatcher %d: a batch failed", k);
        dispatcher_destroy (&takers [k].dispatcher);
        tf_db_destroy (&conn [k]);
    }
    //  both passed over every id once: whatever one skipped, the other held
    cr_assert_eq (takers [0].moved + takers [1].moved, SAME_IDS, "assigned %d + %d",
                  takers [0].moved, takers [1].moved);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE external_id LIKE '%s-%%'"
                                      " AND status = 'assigned'", tag), SAME_IDS);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
                                      " WHERE t.external_id LIKE '%s-%%' AND e.kind = 'assigned'", tag), SAME_IDS);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(DISTINCT e.ticket_id) FROM ticket_events e"
                                      " JOIN tickets t ON t.id = e.ticket_id"
                                      " WHERE t.external_id LIKE '%s-%%' AND e.kind = 'assigned'", tag), SAME_IDS);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets t JOIN taxonomy x ON x.subcategory = t.subcategory"
                                      " WHERE t.external_id LIKE '%s-%%' AND t.department = x.first_owner", tag),
                  SAME_IDS);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The reconciler on its own: the inputs point where nothing binds, so no
//  event can arrive and only the reconciler can move these tickets.

static bool
s_wait_status (tf_db_t *db, int64_t id, const char *status, int timeout_ms)
{
    return tf_test_wait_scalar (db, 1, timeout_ms, "SELECT count(*) FROM tickets WHERE id = %lld AND status = '%s'",
                                (long long) id, status) == 1;
}

//  A ticket another transaction holds when its event arrives (sla making
//  its deadlines, the classifier linking it to an incident) is assigned as
//  soon as that transaction ends, not left for the reconciler
Test (dispatcher, a_ticket_held_elsewhere_is_assigned_when_released)
{
    tf_db_t *db = tf_test_db ();
    tf_db_t *holder = tf_test_db ();
    s_taxonomy_fixture (db);
    rig_t r;
    s_rig_config (&r);
    r.cfg.stale_seconds = 86400;    //  the reconciler cannot be the one that assigns it
    s_rig_start (&r);
    char free_no [32], held_no [32];
    int64_t free_id = s_new_ticket (db, "物流不动", "订单号 202310270011 物流三天没更新", free_no);
    int64_t held_id = s_new_ticket (db, "物流不动", "订单号 202310270012 物流三天没更新", held_no);
    s_classify (db, free_id, "物流信息更新延迟", "P2");
    s_classify (db, held_id, "物流信息更新延迟", "P2");
    tf_test_sql (holder, "BEGIN");
    tf_test_sql (holder, "SELECT id FROM tickets WHERE id = %lld FOR UPDATE", (long long) held_id);
    //  (the free one first: should the two arrive in two runs, the held
    //  one's wait, up to the lock timeout, must not delay the other)
    cr_assert_eq (tf_net_send_ticket_event (r.classified, TF_MSG_CLASSIFIED, free_id, free_no), 0);
    cr_assert_eq (tf_net_send_ticket_event (r.classified, TF_MSG_CLASSIFIED, held_id, held_no), 0);
    //  the other ticket of the batch does not wait for the held one
    cr_assert (s_wait_status (db, free_id, "assigned", 5000));
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'",
                                  (long long) held_id), 1);
    tf_test_sql (holder, "COMMIT");
    cr_assert (s_wait_status (db, held_id, "assigned", 1500), "the held ticket waited for the reconciler");
    cr_assert_eq (s_history (db, held_id, "assigned"), 1);
    cr_assert_eq (s_history (db, free_id, "assigned"), 1);
    s_rig_stop (&r);
    tf_db_destroy (&holder);
    tf_db_destroy (&db);
}

Test (dispatcher, the_reconciler_alone_assigns_classified_and_reopened_once)
{
    tf_test_alone ();           //  stale-seconds 0: it takes every classified or reopened ticket there is
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.classifier_events_endpoint = tf_test_nowhere ();
    cfg.notifier_reopen_endpoint = tf_test_nowhere ();
    cfg.stale_seconds = 0;
    cfg.reconcile_seconds = 1;
    zactor_t *actor = tf_test_service (&dispatcher_service, &cfg, "ENDPOINT", NULL);
    const char *reconciled = "ticketflow_reconciled_total{service=\"dispatcher\"}";
    //  a ticket whose ticket.classified was lost, and a reopened one whose
    //  ticket.reopened was lost (its department and agent are kept)
    int64_t classified = s_new_ticket (db, "物流不动了", "快递三天没有物流更新", NULL);
    s_classify (db, classified, "物流信息更新延迟", "P2");
    int64_t reopened = s_new_ticket (db, "账号又被盗了", "上次处理完还是有人登录", NULL);
    tf_test_sql (db, "UPDATE tickets SET status = 'reopened', status_changed_at = now (), priority = 'P1',"
                     " subcategory = '账号被盗', category = '账户安全', department = 'risk',"
                     " assignee = 'agent-lost', reopen_count = 1 WHERE id = %lld", (long long) reopened);
    cr_assert (s_wait_status (db, classified, "assigned", 10000), "the reconciler did not assign the classified ticket");
    cr_assert (s_wait_status (db, reopened, "assigned", 10000), "the reconciler did not assign the reopened ticket");
    cr_assert_geq (tf_test_wait_handled (actor, reconciled, 2, 5000), 2);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total{service=\"dispatcher\",type=\"ticket.classified\"}"), 0);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total{service=\"dispatcher\",type=\"ticket.reopened\"}"), 0);
    cr_assert_geq (tf_test_metric (actor, "ticketflow_ticket_moves_total{service=\"dispatcher\",move=\"ASSIGN\"}"), 1);
    cr_assert_geq (tf_test_metric (actor, "ticketflow_ticket_moves_total{service=\"dispatcher\",move=\"REASSIGN\"}"), 1);
    //  routed like the event path would have
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets t JOIN taxonomy x ON x.subcategory = t.subcategory"
                                      " WHERE t.id = %lld AND t.department = x.first_owner AND t.assignee IS NULL",
                                  (long long) classified), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND department = 'risk'"
                                      " AND assignee = 'agent-lost'", (long long) reopened), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'assigned'"
                                      " AND from_status = 'reopened' AND actor = 'dispatcher'", (long long) reopened), 1);
    //  a later round takes a later ticket; the first two are not taken again
    int64_t later = s_new_ticket (db, NULL, "页面图片加载不出来", NULL);
    s_classify (db, later, "界面显示异常", "P2");
    cr_assert (s_wait_status (db, later, "assigned", 10000), "no later reconciler round");
    cr_assert_geq (tf_test_wait_handled (actor, reconciled, 3, 5000), 3);
    cr_assert_eq (s_history (db, classified, "assigned"), 1);
    cr_assert_eq (s_history (db, reopened, "assigned"), 1);
    cr_assert_eq (s_history (db, later, "assigned"), 1);
    zactor_destroy (&actor);
    tf_db_destroy (&db);
}

//  Two dispatchers against one database: the event path of both and both
//  reconcilers race for the same 40 tickets; each is assigned exactly once
//  and published once, by the instance that assigned it.
#define RACE_TICKETS 40

//  The sum of one series over the rigs' actors
static double
s_metric_sum (rig_t *r, int n, const char *series)
{
    double sum = 0;
    for (int k = 0; k < n; k++)
        sum += tf_test_metric (r [k].actor, series);
    return sum;
}

Test (dispatcher, two_dispatchers_assign_each_ticket_once, .timeout = 60)
{
    tf_test_alone ();           //  the counters below are every assignment there is
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    int64_t ids [RACE_TICKETS];
    char nos [RACE_TICKETS][32];
    const char *subs [] = { "物流信息更新延迟", "账号被盗", "功能操作", "界面显示异常", "不存在的子类" };
    for (int i = 0; i < RACE_TICKETS; i++)
        ids [i] = s_new_ticket (db, NULL, "抢单测试", nos [i]);
    for (int i = 0; i < RACE_TICKETS; i++) {
        s_classify (db, ids [i], subs [i % 5], "P2");
        tf_test_sql (db, "UPDATE tickets SET status_changed_at = now () - interval '1 minute' WHERE id = %lld",
                     (long long) ids [i]);
    }
    //  with stale-seconds 0 the reconcilers take what earlier tests left too
    long long waiting = tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE status IN ('classified', 'reopened')");
    rig_t r [2];
    for (int k = 0; k < 2; k++) {
        s_rig_config (&r [k]);
        r [k].cfg.stale_seconds = 0;
        r [k].cfg.reconcile_seconds = 1;
        r [k].cfg.batch_size = 7;
    }
    //  both start (and reconcile) at once, and both get every event
    for (int k = 0; k < 2; k++)
        s_rig_start (&r [k]);
    for (int i = 0; i < RACE_TICKETS; i++)
        for (int k = 0; k < 2; k++)
            cr_assert_eq (tf_net_send_ticket_event (r [k].classified, TF_MSG_CLASSIFIED, ids [i], nos [i]), 0);
    char list [RACE_TICKETS * 24] = "";
    for (int i = 0; i < RACE_TICKETS; i++)
        snprintf (list + strlen (list), sizeof list - strlen (list), i? ",%lld": "%lld", (long long) ids [i]);
    long long assigned = 0;
    for (int i = 0; i < 200; i++) {
        assigned = tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND status = 'assigned'", list);
        if (assigned == RACE_TICKETS)
            break;
        zclock_sleep (50);
    }
    cr_assert_eq (assigned, RACE_TICKETS);
    //  and what earlier tests left waiting
    for (int i = 0; i < 200 && tf_test_scalar (db, "SELECT count(*) FROM tickets"
                                                   " WHERE status IN ('classified', 'reopened')") > 0; i++)
        zclock_sleep (50);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE status IN ('classified', 'reopened')"), 0);
    //  every event reached both and was handled: nothing more can come of them
    for (int k = 0; k < 2; k++)
        cr_assert_eq (tf_test_wait_handled (r [k].actor, "ticketflow_messages_received_total"
                                            "{service=\"dispatcher\",type=\"ticket.classified\"}",
                                            RACE_TICKETS, 10000), RACE_TICKETS);
    const char *moves = "ticketflow_ticket_moves_total{service=\"dispatcher\",move=\"ASSIGN\"}";
    const char *sent = "ticketflow_messages_sent_total{service=\"dispatcher\",type=\"ticket.assigned\"}";
    const char *reassigned = "ticketflow_ticket_moves_total{service=\"dispatcher\",move=\"REASSIGN\"}";
    cr_assert_eq (s_metric_sum (r, 2, moves) + s_metric_sum (r, 2, reassigned), waiting);
    cr_assert_eq (s_metric_sum (r, 2, sent), waiting, "an assignment was published twice, or not at all");
    //  a later reconciler round takes a later ticket, and only that one
    int64_t later = s_new_ticket (db, NULL, "抢单之后", NULL);
    s_classify (db, later, "功能操作", "P3");
    cr_assert (s_wait_status (db, later, "assigned", 10000), "no later reconciler round");
    //  (each read waits for its actor's loop to go round: the round that
    //  assigned it has been counted)
    cr_assert_eq (s_metric_sum (r, 2, moves) + s_metric_sum (r, 2, reassigned), waiting + 1);
    cr_assert_eq (s_metric_sum (r, 2, sent), waiting + 1);
    cr_assert_geq (s_metric_sum (r, 2, "ticketflow_reconciled_total{service=\"dispatcher\"}"), 1);
    for (int k = 0; k < 2; k++)
        s_rig_stop (&r [k]);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                      " AND kind = 'assigned'", list), RACE_TICKETS);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM (SELECT ticket_id FROM ticket_events"
                                      " WHERE ticket_id IN (%s) AND kind = 'assigned'"
                                      " GROUP BY ticket_id HAVING count(*) = 1) x", list), RACE_TICKETS);
    //  and each was routed like a single dispatcher would have
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets t LEFT JOIN taxonomy x ON x.subcategory = t.subcategory"
                                      " WHERE t.id IN (%s) AND t.department = coalesce (x.first_owner, 'frontline')",
                                  list), RACE_TICKETS);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  Hostile input

Test (dispatcher, hostile_requests_and_events)
{
    rig_t r;
    s_rig_config (&r);
    s_rig_start (&r);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, r.endpoint, 1 << 20);
    zsock_set_rcvtimeo (dealer, 5000);
#define CASE(type, body, code) { type, body, sizeof body - 1, code }
    struct { const char *type; const char *body; size_t size; const char *code; } cases [] = {
        CASE ("ticket.accept", "\x80", TF_ERR_MISSING_FIELD),
        CASE ("ticket.accept", "\xdd\xff\x00\x00\x00", TF_ERR_BAD_MSGPACK),
        CASE ("ticket.accept", "\x82\xa9ticket_no\xa1x\xa5" "agent\xa0", TF_ERR_BAD_VALUE),
        CASE ("ticket.submit", "\x80", TF_ERR_MISSING_FIELD),
        CASE ("queue.list", "\x81\xaa" "department\x01", TF_ERR_WRONG_TYPE),
        CASE ("queue.list", "\x80", TF_ERR_MISSING_FIELD),
        CASE ("queue.list", "\x81\xa6status\xa8" "accepted", TF_ERR_MISSING_FIELD),
        CASE ("queue.list", "\x82\xaa" "department\xa4tech\xa6status\xa6" "closed", TF_ERR_BAD_VALUE),
        CASE ("queue.list", "\x82\xaa" "department\xa4tech\xa5limit\xcd\x27\x10", TF_ERR_BAD_VALUE),
        CASE ("queue.items", "\x80", TF_ERR_UNKNOWN_TYPE),
        CASE ("ticket.transfer", "\x84\xa9ticket_no\xa1x\xaa" "department\xa1y\xa6reason\xa1z\xa5" "actor\xa1w",
              TF_ERR_BAD_VALUE),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        tf_test_send_raw (dealer, cases [i].type, cases [i].body, cases [i].size);
        zmsg_t *reply = zmsg_recv (dealer);
        cr_assert (reply, "no reply to case %zu", i);
        zframe_t *delimiter = zmsg_pop (reply);
        zframe_destroy (&delimiter);
        zframe_t *type = zmsg_first (reply);
        zframe_t *body = zmsg_next (reply);
        cr_assert (zframe_streq (type, "error"), "case %zu", i);
        tf_msg_t msg;
        tf_error_t err;
        cr_assert_eq (tf_codec_decode_body (TF_MSG_ERROR, zframe_data (body), zframe_size (body), &msg, &err), 0);
        cr_assert (s_str_is (&msg, TF_F_ERROR_CODE, cases [i].code), "case %zu: expected %s, got %.*s", i,
                   cases [i].code, (int) msg.v [TF_F_ERROR_CODE].len, msg.v [TF_F_ERROR_CODE].str);
        zmsg_destroy (&reply);
    }
    //  garbage on the event socket: logged and dropped
    zmsg_t *m = zmsg_new ();
    zmsg_addstr (m, "ticket.classified");
    zmsg_addmem (m, "\x82\xa9ticket_id\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa9ticket_no\xa1x", 32);
    cr_assert_eq (zmsg_size (m), 2);
    cr_assert_eq (zmsg_send (&m, r.classified), 0);
    m = zmsg_new ();
    zmsg_addstr (m, "only one frame");
    cr_assert_eq (zmsg_send (&m, r.classified), 0);
    tf_net_send_ticket_event (r.reopened, TF_MSG_RECEIVED, 1, "CS209901010001");  //  wrong event type
    tf_net_send_ticket_event (r.classified, TF_MSG_CLASSIFIED, INT64_MAX, "CS209901010001");  //  no such ticket
    //  the three that are not events of its own are dropped, the fourth is
    //  handled (no such ticket), and it still serves
    cr_assert_eq (tf_test_wait_handled (r.actor, "ticketflow_events_refused_total{service=\"dispatcher\"}", 3, 5000), 3);
    cr_assert_eq (tf_test_wait_handled (r.actor, "ticketflow_messages_received_total"
                                        "{service=\"dispatcher\",type=\"ticket.classified\"}", 1, 5000), 1);
    tf_msg_t ping, reply;
    zmsg_t *frames;
    tf_msg_init (&ping, TF_MSG_PING);
    s_request (r.endpoint, &ping, &frames, &reply);
    cr_assert_eq (reply.type, TF_MSG_PONG);
    cr_assert (s_str_is (&reply, TF_F_PONG_SERVICE, "dispatcher"));
    zmsg_destroy (&frames);
    zsock_destroy (&dealer);
    s_rig_stop (&r);
}
