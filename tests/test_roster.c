//  The roster and the agents: agent.add / update / duty / list and their
//  refusals; the front line first, then an on-duty agent with the skill
//  and room (least loaded first), else the pool; capacity held when two
//  dispatchers assign at once; the 15-minute acknowledgement going to the
//  next agent with the team lead told; an agent going off duty handing
//  their tickets back; transfer to the second line or to an agent; an
//  agent's own queue. Each test has a department of its own.
#include "dispatcher.h"
#include "intake.h"
#include "sla.h"
#include "tf_test.h"
#include "tf_ticket.h"
#include <criterion/criterion.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>

TestSuite (roster, .timeout = 60);

//  A front line and a second line of this test's own, and a sub-category
//  whose first owner is the front line
typedef struct {
    char front [24], second [24], sub [96], code [64], tag [16];
} desk_t;

static void
s_desk (tf_db_t *db, desk_t *d, const char *tag)
{
    //  each test runs in a process of its own: the pid tells them apart
    char digits [16];
    size_t o = 0;
    char number [32];
    snprintf (number, sizeof number, "%s%d", tf_test_unique (), (int) getpid ());
    size_t len = strlen (number);
    for (size_t i = len > 12? len - 12: 0; i < len && o < 12; i++)
        if (number [i] >= '0' && number [i] <= '9')
            digits [o++] = (char) ('a' + (number [i] - '0'));
    digits [o] = 0;
    snprintf (d->tag, sizeof d->tag, "%s", digits);
    snprintf (d->front, sizeof d->front, "f_%s", d->tag);
    snprintf (d->second, sizeof d->second, "s_%s", d->tag);
    snprintf (d->sub, sizeof d->sub, "%s-%s", tag, d->tag);
    snprintf (d->code, sizeof d->code, "code_%s", d->tag);
    tf_test_sql (db, "INSERT INTO departments (code, name) VALUES ('%s', '一线%s'), ('%s', '二线%s')"
                     " ON CONFLICT DO NOTHING", d->front, d->tag, d->second, d->tag);
    tf_test_sql (db, "INSERT INTO taxonomy (subcategory, code, category, category_code, first_owner, department,"
                     " response_minutes, resolution, default_priority) VALUES"
                     " ('%s', '%s', '测试', 'test', '%s', '%s', 15, '{\"hours\": 24}', 'P2') ON CONFLICT DO NOTHING",
                 d->sub, d->code, d->front, d->second);
}

//  A classified ticket of the desk's sub-category
static int64_t
s_ticket (tf_db_t *db, const desk_t *d, char *no)
{
    int64_t id = tf_test_submit (db, "C-roster", "分配测试", NULL, no);
    tf_test_sql (db, "UPDATE tickets SET status = 'classified', priority = 'P2', subcategory = '%s', category = '测试'"
                     " WHERE id = %lld", d->sub, (long long) id);
    return id;
}

//  Sends a roster request; returns its error code ("" when it was answered
//  with agent.items) and leaves the reply in *reply (cleared by the caller)
static const char *
s_agent (dispatcher_t *disp, tf_msg_t *request, tf_msg_t *reply)
{
    static tf_error_t err;
    memset (&err, 0, sizeof err);
    int rc = dispatcher_agent (disp, request, reply, &err);
    tf_msg_clear (request);
    if (rc == 0)
        cr_assert_eq (reply->type, TF_MSG_AGENT_ITEMS);
    return rc? err.code: "";
}

static void
s_add (dispatcher_t *disp, const char *name, const char *department, const char *role, const char *skills,
       int capacity, bool on_duty)
{
    tf_msg_t m, reply;
    tf_msg_init (&m, TF_MSG_AGENT_ADD);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_NAME, name);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_DEPARTMENT, department);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_ROLE, role);
    if (skills)
        tf_msg_set_cstr (&m, TF_F_AGENT_ADD_SKILLS, skills);
    tf_msg_set_int (&m, TF_F_AGENT_ADD_CAPACITY, capacity);
    tf_msg_set_bool (&m, TF_F_AGENT_ADD_ON_DUTY, on_duty);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_CONTACT, "1380000");
    cr_assert_str_eq (s_agent (disp, &m, &reply), "");
    tf_msg_clear (&reply);
}

static void
s_duty (dispatcher_t *disp, const char *name, bool on)
{
    tf_msg_t m, reply;
    tf_msg_init (&m, TF_MSG_AGENT_DUTY);
    tf_msg_set_cstr (&m, TF_F_AGENT_DUTY_NAME, name);
    tf_msg_set_bool (&m, TF_F_AGENT_DUTY_ON_DUTY, on);
    cr_assert_str_eq (s_agent (disp, &m, &reply), "");
    tf_msg_clear (&reply);
}

//  Rebalances until the count `sql` (printf format, one string argument)
//  is 1, for up to 5 s: another test's rebalance, in another process, may
//  hold the ticket (SKIP LOCKED) and do the same a moment later
static void
s_rebalance_until (tf_db_t *db, dispatcher_t *disp, const char *sql, const char *arg)
{
    dispatcher_assignment_t out [64];
    for (int i = 0; i < 100; i++) {
        int n = dispatcher_rebalance (disp, "file", 64, out);
        for (int k = 0; k < n; k++)
            dispatcher_assignment_clear (&out [k]);
        if (tf_test_scalar (db, sql, arg) == 1)
            return;
        zclock_sleep (50);
    }
}

static long long
s_load (tf_db_t *db, const char *name)
{
    return tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE assignee = '%s'"
                               " AND status IN ('assigned', 'accepted', 'in_progress')", name);
}

static char *
s_name (const desk_t *d, const char *who)
{
    return zsys_sprintf ("%s-%s", who, d->tag);
}

Test (roster, agents_are_added_changed_listed_and_refused)
{
    tf_db_t *db = tf_test_db ();
    dispatcher_t *disp = dispatcher_new (db);
    cr_assert (disp);
    desk_t d;
    s_desk (db, &d, "名册");
    char *li = s_name (&d, "小李"), *wang = s_name (&d, "王组长");
    s_add (disp, li, d.front, "agent", d.code, 3, true);
    s_add (disp, wang, d.front, "team_lead", NULL, 10, true);
    tf_msg_t m, reply;
    //  twice the same name, an unknown department, an unknown skill
    tf_msg_init (&m, TF_MSG_AGENT_ADD);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_NAME, li);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_DEPARTMENT, d.front);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_ROLE, "agent");
    cr_assert_str_eq (s_agent (disp, &m, &reply), TF_ERR_BAD_VALUE);
    tf_msg_clear (&reply);
    tf_msg_init (&m, TF_MSG_AGENT_ADD);
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_NAME, "nobody-x");
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_DEPARTMENT, "no_such_department");
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_ROLE, "agent");
    cr_assert_str_eq (s_agent (disp, &m, &reply), TF_ERR_BAD_VALUE);
    tf_msg_clear (&reply);
    tf_msg_init (&m, TF_MSG_AGENT_UPDATE);
    tf_msg_set_cstr (&m, TF_F_AGENT_UPDATE_NAME, li);
    tf_msg_set_cstr (&m, TF_F_AGENT_UPDATE_SKILLS, "no_such_code");
    cr_assert_str_eq (s_agent (disp, &m, &reply), TF_ERR_BAD_VALUE);
    tf_msg_clear (&reply);
    tf_msg_init (&m, TF_MSG_AGENT_DUTY);
    tf_msg_set_cstr (&m, TF_F_AGENT_DUTY_NAME, "nobody-at-all");
    tf_msg_set_bool (&m, TF_F_AGENT_DUTY_ON_DUTY, true);
    cr_assert_str_eq (s_agent (disp, &m, &reply), TF_ERR_NOT_FOUND);
    tf_msg_clear (&reply);
    //  an update keeps what it does not name
    tf_msg_init (&m, TF_MSG_AGENT_UPDATE);
    tf_msg_set_cstr (&m, TF_F_AGENT_UPDATE_NAME, li);
    tf_msg_set_int (&m, TF_F_AGENT_UPDATE_CAPACITY, 5);
    cr_assert_str_eq (s_agent (disp, &m, &reply), "");
    tf_msg_clear (&reply);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM agents WHERE name = '%s' AND capacity = 5"
                                      " AND skills = ARRAY ['%s'] AND on_duty AND role = 'agent'", li, d.code), 1);
    //  the list of the department, in name order, with their load
    tf_msg_init (&m, TF_MSG_AGENT_LIST);
    tf_msg_set_cstr (&m, TF_F_AGENT_LIST_DEPARTMENT, d.front);
    cr_assert_str_eq (s_agent (disp, &m, &reply), "");
    const tf_value_t *v = &reply.v [TF_F_AGENT_ITEMS_AGENTS];
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    cr_assert_eq (msgpack_unpack_next (&u, v->str, v->len, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (u.data.type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq (u.data.via.array.size, 2);
    msgpack_object_map first = u.data.via.array.ptr [0].via.map;
    cr_assert_eq (first.size, 9);
    msgpack_unpacked_destroy (&u);
    tf_msg_clear (&reply);
    //  one on-duty manager at a time
    char *boss1 = s_name (&d, "经理甲"), *boss2 = s_name (&d, "经理乙");
    s_add (disp, boss1, d.front, "manager", NULL, 0, true);
    s_add (disp, boss2, d.front, "manager", NULL, 0, true);
    const char *names [] = { boss1, boss2 };
    for (int i = 0; i < 2; i++) {
        tf_msg_init (&m, TF_MSG_AGENT_DUTY);
        tf_msg_set_cstr (&m, TF_F_AGENT_DUTY_NAME, names [i]);
        tf_msg_set_bool (&m, TF_F_AGENT_DUTY_ON_DUTY, true);
        tf_msg_set_bool (&m, TF_F_AGENT_DUTY_DUTY_MANAGER, true);
        cr_assert_str_eq (s_agent (disp, &m, &reply), "");
        tf_msg_clear (&reply);
    }
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM agents WHERE duty_manager"), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM agents WHERE duty_manager AND name = '%s'", boss2), 1);
    zstr_free (&boss1);
    zstr_free (&boss2);
    zstr_free (&li);
    zstr_free (&wang);
    dispatcher_destroy (&disp);
    tf_db_destroy (&db);
}

Test (roster, front_line_first_least_loaded_with_the_skill_then_the_pool)
{
    tf_db_t *db = tf_test_db ();
    dispatcher_t *disp = dispatcher_new (db);
    desk_t d;
    s_desk (db, &d, "分配");
    char *a = s_name (&d, "甲"), *b = s_name (&d, "乙"), *c = s_name (&d, "丙"), *off = s_name (&d, "休");
    s_add (disp, a, d.front, "agent", d.code, 2, true);
    s_add (disp, b, d.front, "agent", "", 1, true);
    s_add (disp, c, d.front, "agent", "how_to", 5, true);       //  not this skill
    s_add (disp, off, d.front, "agent", NULL, 5, false);        //  off duty
    int64_t ids [5];
    for (int i = 0; i < 5; i++)
        ids [i] = s_ticket (db, &d, NULL);
    dispatcher_assignment_t out [5];
    cr_assert_eq (dispatcher_assign (disp, ids, 5, out), 5);
    //  to the front line, with the second line named
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq (out [i].department, d.front);
        cr_assert_str_eq (out [i].second_line, d.second);
    }
    //  甲 (room 2) and 乙 (room 1) take three, least loaded first; two wait in the pool
    cr_assert_str_eq (out [0].assignee, a);
    cr_assert_str_eq (out [1].assignee, b);
    cr_assert_str_eq (out [2].assignee, a);
    cr_assert_str_eq (out [3].assignee, "");
    cr_assert_str_eq (out [4].assignee, "");
    for (int i = 0; i < 5; i++)
        dispatcher_assignment_clear (&out [i]);
    cr_assert_eq (s_load (db, a), 2);
    cr_assert_eq (s_load (db, b), 1);
    cr_assert_eq (s_load (db, c), 0);
    cr_assert_eq (s_load (db, off), 0);
    //  each assigned one has its acknowledgement clock, due in 15 minutes of service time
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
                                      " WHERE t.department = '%s' AND s.kind = 'acknowledgement' AND s.met_at IS NULL"
                                      " AND s.due_at = tf_business_add (t.assigned_at, 900, s.calendar)", d.front), 3);
    //  丙 learns the skill: the pool's tickets go to them
    tf_msg_t m, reply;
    tf_msg_init (&m, TF_MSG_AGENT_UPDATE);
    tf_msg_set_cstr (&m, TF_F_AGENT_UPDATE_NAME, c);
    tf_msg_set_cstr (&m, TF_F_AGENT_UPDATE_SKILLS, "");
    cr_assert_str_eq (s_agent (disp, &m, &reply), "");
    tf_msg_clear (&reply);
    s_rebalance_until (db, disp, "SELECT (count(*) = 2)::int FROM tickets WHERE assignee = '%s'"
                                 " AND status = 'assigned'", c);
    cr_assert_eq (s_load (db, c), 2);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
                                      " WHERE t.assignee = '%s' AND e.kind = 'assigned_to_agent'", c), 2);
    //  an agent's own queue
    tf_msg_t q;
    tf_msg_init (&q, TF_MSG_QUEUE_LIST);
    tf_msg_set_cstr (&q, TF_F_QUEUE_LIST_AGENT, a);
    tf_error_t err;
    cr_assert_eq (dispatcher_queue (disp, &q, &reply, &err), 0, "%s", err.message);
    cr_assert_eq (tf_msg_has (&reply, TF_F_QUEUE_ITEMS_TICKETS), true);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    cr_assert_eq (msgpack_unpack_next (&u, reply.v [TF_F_QUEUE_ITEMS_TICKETS].str,
                                       reply.v [TF_F_QUEUE_ITEMS_TICKETS].len, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (u.data.via.array.size, 2);
    msgpack_unpacked_destroy (&u);
    tf_msg_clear (&reply);
    tf_msg_clear (&q);
    zstr_free (&a);
    zstr_free (&b);
    zstr_free (&c);
    zstr_free (&off);
    dispatcher_destroy (&disp);
    tf_db_destroy (&db);
}

//  Two dispatchers, each on its own connection, assign at the same moment
typedef struct {
    int64_t *ids;
    size_t n;
    pthread_barrier_t *start;
    int assigned;
} racer_t;

static void *
s_racer (void *arg)
{
    racer_t *self = arg;
    tf_db_t *db = tf_test_db ();
    dispatcher_t *disp = dispatcher_new (db);
    dispatcher_assignment_t *out = calloc (self->n, sizeof *out);
    pthread_barrier_wait (self->start);
    self->assigned = dispatcher_assign (disp, self->ids, self->n, out);
    for (int i = 0; i < self->assigned; i++)
        dispatcher_assignment_clear (&out [i]);
    free (out);
    dispatcher_destroy (&disp);
    tf_db_destroy (&db);
    return NULL;
}

Test (roster, capacity_holds_when_two_dispatchers_assign_at_once)
{
    tf_db_t *db = tf_test_db ();
    dispatcher_t *disp = dispatcher_new (db);
    desk_t d;
    s_desk (db, &d, "并发");
    char *a = s_name (&d, "甲"), *b = s_name (&d, "乙");
    s_add (disp, a, d.front, "agent", NULL, 3, true);
    s_add (disp, b, d.front, "agent", NULL, 2, true);
    enum { N = 20 };
    int64_t ids [N];
    for (int i = 0; i < N; i++)
        ids [i] = s_ticket (db, &d, NULL);
    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, 2);
    racer_t racers [2] = { { ids, N / 2, &start, 0 }, { ids + N / 2, N / 2, &start, 0 } };
    pthread_t threads [2];
    for (int i = 0; i < 2; i++)
        pthread_create (&threads [i], NULL, s_racer, &racers [i]);
    for (int i = 0; i < 2; i++)
        pthread_join (threads [i], NULL);
    pthread_barrier_destroy (&start);
    cr_assert_eq (racers [0].assigned + racers [1].assigned, N);
    //  five tickets went to agents, no more: the rest wait in the pool
    cr_assert_eq (s_load (db, a), 3);
    cr_assert_eq (s_load (db, b), 2);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE department = '%s' AND status = 'assigned'"
                                      " AND assignee IS NULL", d.front), N - 5);
    zstr_free (&a);
    zstr_free (&b);
    dispatcher_destroy (&disp);
    tf_db_destroy (&db);
}

Test (roster, unaccepted_goes_to_the_next_agent_and_off_duty_hands_back)
{
    tf_db_t *db = tf_test_db ();
    dispatcher_t *disp = dispatcher_new (db);
    desk_t d;
    s_desk (db, &d, "接单");
    char *a = s_name (&d, "甲"), *b = s_name (&d, "乙"), *lead = s_name (&d, "组长");
    s_add (disp, a, d.front, "agent", NULL, 5, true);
    s_add (disp, lead, d.front, "team_lead", NULL, 5, true);
    char no [32];
    int64_t id = s_ticket (db, &d, no);
    dispatcher_assignment_t out [8];
    cr_assert_eq (dispatcher_assign (disp, &id, 1, out), 1);
    cr_assert_str_eq (out [0].assignee, a);
    dispatcher_assignment_clear (&out [0]);
    s_add (disp, b, d.front, "agent", NULL, 5, true);
    //  甲 lets 15 minutes pass
    tf_test_sql (db, "UPDATE sla_timers SET due_at = tf_now () - interval '1 second'"
                     " WHERE ticket_id = %lld AND kind = 'acknowledgement'", (long long) id);
    char *which = zsys_sprintf ("%lld", (long long) id);
    s_rebalance_until (db, disp, "SELECT count(*) FROM ticket_events WHERE ticket_id = %s AND kind = 'reassigned'",
                       which);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND assignee = '%s'"
                                      " AND status = 'assigned'", (long long) id, b), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'reassigned' AND note LIKE '%%did not accept within 15 minutes%%'",
                                  (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM outbox WHERE ticket_id = %lld"
                                      " AND kind = 'acknowledgement_missed' AND payload->>'to_agent' = '%s'"
                                      " AND payload->>'message' LIKE '%%分配后15分钟未被接单,已转给 %%'",
                                  (long long) id, lead), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind = 'acknowledgement' AND round = 1 AND met_at IS NULL",
                                  (long long) id), 1);
    //  乙 accepts (the clock is met), then goes off duty: the ticket goes
    //  back to the pool, and from there to 甲, who has room
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_ACCEPT);
    tf_msg_set_cstr (&m, TF_F_ACCEPT_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_ACCEPT_AGENT, b);
    int64_t got;
    tf_error_t err;
    cr_assert_eq (dispatcher_accept (disp, &m, &got, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind = 'acknowledgement' AND met_at IS NULL AND breached_at IS NULL",
                                  (long long) id), 0);
    s_duty (disp, b, false);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'"
                                      " AND assignee IS NULL", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'handed_back' AND from_status = 'accepted'", (long long) id), 1);
    s_rebalance_until (db, disp, "SELECT count(*) FROM tickets WHERE id = %s AND assignee IS NOT NULL", which);
    zstr_free (&which);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND assignee = '%s'",
                                  (long long) id, a), 1);
    //  to the second line, with a reason, and to a named agent
    tf_msg_init (&m, TF_MSG_TRANSFER);
    tf_msg_set_cstr (&m, TF_F_TRANSFER_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_TRANSFER_REASON, "按解决步骤处理无效,转二线");
    cr_assert_eq (dispatcher_transfer (disp, &m, &out [0], &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    cr_assert_str_eq (out [0].department, d.second);
    dispatcher_assignment_clear (&out [0]);
    //  at the second line already: it must be told where
    tf_msg_init (&m, TF_MSG_TRANSFER);
    tf_msg_set_cstr (&m, TF_F_TRANSFER_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_TRANSFER_REASON, "again");
    cr_assert_eq (dispatcher_transfer (disp, &m, &out [0], &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_MISSING_FIELD);
    tf_msg_clear (&m);
    tf_msg_init (&m, TF_MSG_TRANSFER);
    tf_msg_set_cstr (&m, TF_F_TRANSFER_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_TRANSFER_AGENT, a);
    tf_msg_set_cstr (&m, TF_F_TRANSFER_REASON, "客户要求原客服跟进");
    cr_assert_eq (dispatcher_transfer (disp, &m, &out [0], &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    cr_assert_str_eq (out [0].assignee, a);
    cr_assert_str_eq (out [0].department, d.front);
    dispatcher_assignment_clear (&out [0]);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'transferred'", (long long) id), 2);
    zstr_free (&a);
    zstr_free (&b);
    zstr_free (&lead);
    dispatcher_destroy (&disp);
    tf_db_destroy (&db);
}

//  物流信息更新延迟: after 48 h with the front line, the second line takes it
Test (roster, the_second_line_takes_over_when_the_front_line_kept_it_too_long)
{
    tf_db_t *db = tf_test_db ();
    dispatcher_t *disp = dispatcher_new (db);
    sla_t *sla = sla_new (db);
    desk_t d;
    s_desk (db, &d, "移交");
    tf_test_sql (db, "UPDATE taxonomy SET hand_over_hours = 48 WHERE subcategory = '%s'", d.sub);
    char *a = s_name (&d, "一线"), *expert = s_name (&d, "物流");
    s_add (disp, a, d.front, "agent", NULL, 5, true);
    s_add (disp, expert, d.second, "agent", NULL, 5, true);
    int64_t ids [2];
    dispatcher_assignment_t out [8];
    for (int i = 0; i < 2; i++) {
        ids [i] = s_ticket (db, &d, NULL);
        cr_assert_eq (dispatcher_assign (disp, &ids [i], 1, out), 1);
        cr_assert_str_eq (out [0].assignee, a);
        dispatcher_assignment_clear (&out [0]);
        cr_assert_eq (sla_track (sla, &ids [i], 1), 1);
    }
    //  the clock: 48 hours after the contact
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
                                      " WHERE t.id IN (%lld, %lld) AND s.kind = 'hand_over'"
                                      " AND s.due_at = t.created_at + interval '48 hours'",
                                  (long long) ids [0], (long long) ids [1]), 2);
    //  the second ticket went to the second line by hand meanwhile
    tf_test_sql (db, "UPDATE tickets SET department = '%s' WHERE id = %lld", d.second, (long long) ids [1]);
    //  48 hours pass
    tf_test_sql (db, "UPDATE sla_timers SET due_at = tf_now () - interval '1 second'"
                     " WHERE ticket_id IN (%lld, %lld) AND kind = 'hand_over'", (long long) ids [0], (long long) ids [1]);
    char *which = zsys_sprintf ("%lld", (long long) ids [0]);
    s_rebalance_until (db, disp, "SELECT count(*) FROM ticket_events WHERE ticket_id = %s AND kind = 'transferred'",
                       which);
    zstr_free (&which);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND department = '%s'"
                                      " AND assignee = '%s' AND status = 'assigned'",
                                  (long long) ids [0], d.second, expert), 1, "the ticket was not handed over");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'transferred' AND actor = 'dispatcher'"
                                      " AND note LIKE '48 h with the front line: handed over to %s%%'",
                                  (long long) ids [0], d.second), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'transferred'", (long long) ids [1]), 0);
    //  once
    int n = dispatcher_rebalance (disp, "file", 8, out);
    for (int i = 0; i < n; i++)
        dispatcher_assignment_clear (&out [i]);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'transferred'", (long long) ids [0]), 1);
    zstr_free (&a);
    zstr_free (&expert);
    sla_destroy (&sla);
    dispatcher_destroy (&disp);
    tf_db_destroy (&db);
}
