//  Who may do what: CURVE on every socket, the allow-list, roles and
//  departments, forged actors, department topics, HTTP tokens, slow and
//  non-reading clients.
#include "classifier_service.h"
#include "dispatcher_service.h"
#include "intake_service.h"
#include "notifier_service.h"
#include "reporting_service.h"
#include "sla_service.h"
#include "tf_actor.h"
#include "tf_http.h"
#include "tf_json.h"
#include "tf_private.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_security.h"
#include "tf_test.h"
#include "tf_token.h"
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite (security, .timeout = 90);

//  A certificate issued for this test run (name made unique); the
//  secret file's path in `path`.
static void
s_issue (const char *prefix, tf_role_t role, const char *department, const char *channel, char *name,
         size_t name_size, char *path, size_t path_size)
{
    snprintf (name, name_size, "%s-%.40s", prefix, tf_test_unique ());
    snprintf (path, path_size, "%s/%s.key_secret", tf_test_keys_dir (), name);
    char why [256];
    tf_keys_revoke (tf_test_keys_dir (), name);
    unlink (path);
    cr_assert_eq (tf_keys_issue (tf_test_keys_dir (), name, role, department, channel, path, why, sizeof why), 0,
                  "%s", why);
}

//  How a CURVE handshake with endpoint ends for a socket of `type`: 1
//  succeeded, 0 refused (or the peer hung up), -1 nothing within 3 s.
//  cert NULL: a plain socket (no keys at all).
static int
s_handshake (int type, const char *endpoint, zcert_t *cert, const char *server_key)
{
    static int monitors;
    zsock_t *sock = zsock_new (type);
    zsock_set_linger (sock, 0);
    if (type == ZMQ_SUB)
        zsock_set_subscribe (sock, "");
    if (cert) {
        zcert_apply (cert, sock);
        zsock_set_curve_serverkey (sock, server_key);
    }
    char monitor [64];
    snprintf (monitor, sizeof monitor, "inproc://handshake-%d", monitors++);
    int rc = zmq_socket_monitor (zsock_resolve (sock), monitor,
                                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                 | ZMQ_EVENT_DISCONNECTED);
    cr_assert_eq (rc, 0);
    zsock_t *events = zsock_new (ZMQ_PAIR);
    cr_assert_eq (zsock_connect (events, "%s", monitor), 0);
    zsock_set_rcvtimeo (events, 3000);
    cr_assert_eq (zsock_connect (sock, "%s", endpoint), 0);
    int outcome = -1;
    zmsg_t *event = zmsg_recv (events);
    if (event) {
        uint16_t id;
        memcpy (&id, zframe_data (zmsg_first (event)), sizeof id);
        outcome = id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
        zmsg_destroy (&event);
    }
    zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
    zsock_destroy (&events);
    zsock_destroy (&sock);
    return outcome;
}

//  A service's settings with its inputs connected nowhere: it runs alone
static tf_config_t
s_alone (const tf_config_t *cfg, const tf_service_t *service)
{
    tf_config_t alone = *cfg;
    for (const char *const *s = service->input_settings; s && *s; s++)
        *(const char **) ((char *) &alone + tf_config_option (*s)->offset) = tf_test_nowhere ();
    return alone;
}

static zcert_t *
s_cert (const char *name)
{
    zcert_t *cert = tf_security_load_cert (name);
    cr_assert (cert, "no certificate %s", name);
    return cert;
}

Test (security, every_socket_takes_only_who_it_should)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    char notifications [PATH_MAX];
    snprintf (notifications, sizeof notifications, "/tmp/tf-security-%d.jsonl", getpid ());
    cfg.notifier_file = notifications;
    const tf_service_t *services [] = { &intake_service, &classifier_service, &dispatcher_service,
                                        &sla_service, &notifier_service, &reporting_service };
    char adapter [80], agent [80], adapter_path [PATH_MAX], agent_path [PATH_MAX];
    s_issue ("sec-adapter", TF_ROLE_ADAPTER, NULL, "app", adapter, sizeof adapter, adapter_path, sizeof adapter_path);
    s_issue ("sec-agent", TF_ROLE_AGENT, "logistics", NULL, agent, sizeof agent, agent_path, sizeof agent_path);
    zcert_t *as_adapter = s_cert (adapter_path), *as_agent = s_cert (agent_path);
    zcert_t *as_operator = s_cert ("operator"), *as_service = s_cert ("sla");
    zcert_t *stranger = zcert_new ();           //  keys nobody put on the allow-list
    zcert_t *other_server = zcert_new ();       //  a server we do not run
    const char *server = zcert_meta (as_operator, "server-key");
    cr_assert (server);

    for (size_t i = 0; i < sizeof services / sizeof *services; i++) {
        char *endpoint;
        tf_config_t alone = s_alone (&cfg, services [i]);
        zactor_t *actor = tf_test_service (services [i], &alone, "ENDPOINT", &endpoint);
        const char *name = tf_service_names [services [i]->id];
        //  the request socket: any key on the list, nobody else
        cr_assert_eq (s_handshake (ZMQ_DEALER, endpoint, NULL, NULL), 0, "%s: a plain client got in", name);
        cr_assert_eq (s_handshake (ZMQ_DEALER, endpoint, stranger, server), 0, "%s: a stranger got in", name);
        cr_assert_eq (s_handshake (ZMQ_DEALER, endpoint, as_operator, zcert_public_txt (other_server)), 0,
                      "%s: a handshake with the wrong server key succeeded", name);
        cr_assert_eq (s_handshake (ZMQ_DEALER, endpoint, as_adapter, server), 1, "%s: an adapter was refused", name);
        cr_assert_eq (s_handshake (ZMQ_DEALER, endpoint, as_operator, server), 1, "%s: the operator was refused", name);
        //  each output: events between services take services only; topics
        //  take services, operators, leads and agents
        for (const tf_output_t *o = services [i]->outputs; o && o->query; o++) {
            char *output = tf_actor_query (actor, o->query);
            cr_assert (output && *output);
            int type = o->type == ZMQ_PUSH? ZMQ_PULL: ZMQ_SUB;
            cr_assert_eq (s_handshake (type, output, NULL, NULL), 0, "%s %s: a plain client got in", name, o->query);
            cr_assert_eq (s_handshake (type, output, stranger, server), 0, "%s %s: a stranger got in", name, o->query);
            cr_assert_eq (s_handshake (type, output, as_adapter, server), 0, "%s %s: an adapter got in", name, o->query);
            cr_assert_eq (s_handshake (type, output, as_service, server), 1, "%s %s: a service was refused", name,
                          o->query);
            cr_assert_eq (s_handshake (type, output, as_agent, server), type == ZMQ_SUB,
                          "%s %s: an agent %s", name, o->query, type == ZMQ_SUB? "was refused": "got in");
            cr_assert_eq (s_handshake (type, output, as_operator, server), type == ZMQ_SUB,
                          "%s %s: the operator %s", name, o->query, type == ZMQ_SUB? "was refused": "got in");
            zstr_free (&output);
        }
        zstr_free (&endpoint);
        zactor_destroy (&actor);
    }
    //  a revoked key is refused from its next handshake on
    char *endpoint;
    zactor_t *actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", &endpoint);
    cr_assert_eq (tf_keys_revoke (tf_test_keys_dir (), adapter), 0);
    cr_assert_eq (s_handshake (ZMQ_DEALER, endpoint, as_adapter, server), 0, "a revoked adapter got in");
    zstr_free (&endpoint);
    zactor_destroy (&actor);
    tf_keys_revoke (tf_test_keys_dir (), agent);
    zcert_destroy (&as_adapter);
    zcert_destroy (&as_agent);
    zcert_destroy (&as_operator);
    zcert_destroy (&as_service);
    zcert_destroy (&stranger);
    zcert_destroy (&other_server);
    unlink (notifications);
}

//  One request as `cert` (a path); the reply's type, and its error code in
//  code (or "").
static tf_msg_type_t
s_ask (const char *endpoint, const char *cert, tf_msg_t *request, char *code, size_t code_size)
{
    zcert_t *as = s_cert (cert);
    tf_security_use (as);
    zmsg_t *frames = NULL;
    tf_msg_t reply;
    tf_error_t err;
    int rc = tf_net_request (endpoint, request, 5000, &frames, &reply, &err);
    tf_security_use (NULL);
    zcert_destroy (&as);
    cr_assert_eq (rc, 0, "%s: %s", tf_schemas [request->type].name, err.message);
    tf_msg_clear (request);
    *code = 0;
    if (reply.type == TF_MSG_ERROR)
        snprintf (code, code_size, "%.*s", (int) reply.v [TF_F_ERROR_CODE].len, reply.v [TF_F_ERROR_CODE].str);
    tf_msg_type_t type = reply.type;
    zmsg_destroy (&frames);
    return type;
}

static tf_msg_t
s_ticket_request (tf_msg_type_t type, tf_field_id_t field, const char *ticket_no)
{
    tf_msg_t m;
    tf_msg_init (&m, type);
    tf_msg_set_cstr (&m, field, ticket_no);
    return m;
}

Test (security, each_role_acts_where_it_may_and_as_itself)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_db_t *db = tf_test_db ();
    char *intake, *dispatcher, *sla;
    tf_config_t for_dispatcher = s_alone (&cfg, &dispatcher_service), for_sla = s_alone (&cfg, &sla_service);
    zactor_t *intake_actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", &intake);
    zactor_t *dispatcher_actor = tf_test_service (&dispatcher_service, &for_dispatcher, "ENDPOINT", &dispatcher);
    zactor_t *sla_actor = tf_test_service (&sla_service, &for_sla, "ENDPOINT", &sla);

    char agent [80], agent_path [PATH_MAX], adapter [80], adapter_path [PATH_MAX];
    s_issue ("sec-a", TF_ROLE_AGENT, "logistics", NULL, agent, sizeof agent, agent_path, sizeof agent_path);
    s_issue ("sec-app", TF_ROLE_ADAPTER, NULL, "app", adapter, sizeof adapter, adapter_path, sizeof adapter_path);
    //  one ticket of the agent's department, accepted by them; one of another
    char mine [32], theirs [32];
    int64_t mine_id = tf_test_submit (db, "C-sec", "快递三天没有更新物流信息", NULL, mine);
    tf_test_sql (db, "UPDATE tickets SET status = 'accepted', department = 'logistics', priority = 'P3',"
                     " category = '订单物流', subcategory = '物流信息更新延迟', assignee = '%s',"
                     " accepted_at = now (), first_response_at = now () WHERE id = %lld",
                 agent, (long long) mine_id);
    int64_t theirs_id = tf_test_submit (db, "C-sec", "退款还没有到账", NULL, theirs);
    tf_test_sql (db, "UPDATE tickets SET status = 'assigned', department = 'finance', priority = 'P3'"
                     " WHERE id = %lld", (long long) theirs_id);
    char code [32];
    tf_msg_t m;

    //  an agent sees and acts on their department's tickets only
    m = s_ticket_request (TF_MSG_GET, TF_F_GET_TICKET_NO, mine);
    cr_assert_eq (s_ask (intake, agent_path, &m, code, sizeof code), TF_MSG_INFO, "%s", code);
    m = s_ticket_request (TF_MSG_GET, TF_F_GET_TICKET_NO, theirs);
    s_ask (intake, agent_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    m = s_ticket_request (TF_MSG_ACCEPT, TF_F_ACCEPT_TICKET_NO, theirs);
    tf_msg_set_cstr (&m, TF_F_ACCEPT_AGENT, agent);
    s_ask (dispatcher, agent_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'",
                                  (long long) theirs_id), 1);
    tf_msg_init (&m, TF_MSG_QUEUE_LIST);
    tf_msg_set_cstr (&m, TF_F_QUEUE_LIST_DEPARTMENT, "finance");
    s_ask (dispatcher, agent_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    tf_msg_init (&m, TF_MSG_QUEUE_LIST);          //  no department: theirs is filled in
    cr_assert_eq (s_ask (dispatcher, agent_path, &m, code, sizeof code), TF_MSG_QUEUE_ITEMS, "%s", code);
    tf_msg_init (&m, TF_MSG_QUEUE_LIST);
    tf_msg_set_cstr (&m, TF_F_QUEUE_LIST_AGENT, "someone-else");
    s_ask (dispatcher, agent_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    tf_msg_init (&m, TF_MSG_AGENT_ADD);           //  the roster is a lead's
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_NAME, "new-hire");
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_DEPARTMENT, "logistics");
    tf_msg_set_cstr (&m, TF_F_AGENT_ADD_ROLE, "agent");
    s_ask (dispatcher, agent_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    m = s_ticket_request (TF_MSG_RESOLVE, TF_F_RESOLVE_TICKET_NO, theirs);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "done");
    s_ask (sla, agent_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");

    //  the actor is who sent it, whatever the request says
    m = s_ticket_request (TF_MSG_PROGRESS, TF_F_PROGRESS_TICKET_NO, mine);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "联系了快递");
    tf_msg_set_cstr (&m, TF_F_PROGRESS_ACTOR, "the-boss");
    cr_assert_eq (s_ask (sla, agent_path, &m, code, sizeof code), TF_MSG_UPDATED, "%s", code);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND actor = 'the-boss'", (long long) mine_id), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'progress' AND actor = '%s'", (long long) mine_id, agent), 1);

    //  an adapter submits for its channel and may not resolve
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "wechat");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "冒充微信渠道");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "c-sec");
    s_ask (intake, adapter_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "app 里下单失败");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "c-sec");
    cr_assert_eq (s_ask (intake, adapter_path, &m, code, sizeof code), TF_MSG_ACCEPTED, "%s", code);
    m = s_ticket_request (TF_MSG_RESOLVE, TF_F_RESOLVE_TICKET_NO, mine);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "done");
    s_ask (sla, adapter_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'in_progress'",
                                  (long long) mine_id), 1);
    //  a feedback about another channel's ticket (mine came from app: the
    //  one of tf_test_submit) from a wechat adapter
    char wechat [80], wechat_path [PATH_MAX];
    s_issue ("sec-wx", TF_ROLE_ADAPTER, NULL, "wechat", wechat, sizeof wechat, wechat_path, sizeof wechat_path);
    m = s_ticket_request (TF_MSG_FEEDBACK, TF_F_FEEDBACK_TICKET_NO, mine);
    tf_msg_set_bool (&m, TF_F_FEEDBACK_SOLVED, true);
    s_ask (intake, wechat_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");
    //  tokens are the operators'
    tf_msg_init (&m, TF_MSG_TOKEN_CREATE);
    tf_msg_set_cstr (&m, TF_F_TOKEN_CREATE_NAME, "mine-now");
    tf_msg_set_cstr (&m, TF_F_TOKEN_CREATE_ROLE, "operator");
    s_ask (intake, agent_path, &m, code, sizeof code);
    cr_assert_str_eq (code, "forbidden");

    tf_keys_revoke (tf_test_keys_dir (), agent);
    tf_keys_revoke (tf_test_keys_dir (), adapter);
    tf_keys_revoke (tf_test_keys_dir (), wechat);
    zstr_free (&intake);
    zstr_free (&dispatcher);
    zstr_free (&sla);
    zactor_destroy (&sla_actor);
    zactor_destroy (&dispatcher_actor);
    zactor_destroy (&intake_actor);
    tf_db_destroy (&db);
}

//  ------------------------------------------------------------------ topics

//  A service whose tick publishes one event on `logistics.` and one on
//  `finance.` every 20 ms
static int s_published;

static void
s_report_handler (void *state, tf_engine_t *engine, tf_request_t *request)
{
    (void) state;
    tf_error_t err;
    tf_error_set (&err, TF_ERR_NOT_FOUND, NULL, "nothing here");
    tf_engine_refuse (engine, request, &err);
}

static void *
s_topics_create (tf_engine_t *engine)
{
    (void) engine;
    return &s_published;
}

static int64_t
s_topics_tick (void *state, tf_engine_t *engine)
{
    (void) state;
    tf_msg_t event;
    tf_msg_init (&event, TF_MSG_CLASSIFIED);
    tf_msg_set_int (&event, TF_F_CLASSIFIED_TICKET_ID, 1);
    tf_msg_set_cstr (&event, TF_F_CLASSIFIED_TICKET_NO, "CS209901010001");
    tf_engine_send (engine, 0, "logistics.", &event);
    tf_engine_send (engine, 0, "finance.", &event);
    tf_msg_clear (&event);
    s_published++;
    return zclock_mono () + 20;
}

//  What a SUB subscribed to `topics` (NULL-terminated) as `cert` gets
//  within a second: a bit per department (1 logistics, 2 finance).
static int
s_heard (const char *endpoint, const char *cert, const char *const *topics)
{
    zcert_t *as = s_cert (cert);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    tf_security_use (as);
    tf_security_client (sub);
    tf_security_use (NULL);
    for (const char *const *t = topics; *t; t++)
        zsock_set_subscribe (sub, *t);
    zsock_set_rcvtimeo (sub, 100);
    cr_assert_eq (zsock_connect (sub, "%s", endpoint), 0);
    int heard = 0;
    int64_t until = zclock_mono () + 1000;
    while (zclock_mono () < until) {
        char *topic = zstr_recv (sub);
        if (topic) {
            heard |= streq (topic, "logistics.")? 1: streq (topic, "finance.")? 2: 4;
            zsock_flush (sub);
        }
        zstr_free (&topic);
    }
    zsock_destroy (&sub);
    zcert_destroy (&as);
    return heard;
}

Test (security, department_topics_reach_their_department_only)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_service_t service = {
        .id = TF_SVC_REPORTING,
        .summary = "topics",
        .settings = (const char *const []) { NULL },
        .request_setting = "reporting-endpoint",
        .ops_port_setting = "reporting-ops-port",
        .outputs = (const tf_output_t []) { { "PUBLISH", ZMQ_PUB, "sla-publish-endpoint" }, { NULL } },
        .handlers = (const tf_handler_t []) { { .type = TF_MSG_REPORT_SUMMARY, .one = s_report_handler },
                                              { .type = TF_MSG_NONE } },
        .create = s_topics_create,
        .tick = s_topics_tick,
    };
    zactor_t *actor = tf_test_service (&service, &cfg, "ENDPOINT", NULL);
    char *publish = tf_actor_query (actor, "PUBLISH");
    char agent [80], agent_path [PATH_MAX], lead [80], lead_path [PATH_MAX];
    s_issue ("sec-topic-agent", TF_ROLE_AGENT, "logistics", NULL, agent, sizeof agent, agent_path, sizeof agent_path);
    s_issue ("sec-topic-lead", TF_ROLE_LEAD, "finance", NULL, lead, sizeof lead, lead_path, sizeof lead_path);
    const char *all [] = { "", NULL };
    const char *both [] = { "logistics.", "finance.", NULL };
    const char *prefix [] = { "fin", "logistics", NULL };      //  not a whole department
    cr_assert_eq (s_heard (publish, "operator", all), 3, "the operator hears every department");
    cr_assert_eq (s_heard (publish, agent_path, all), 0, "an agent subscribed to everything");
    cr_assert_eq (s_heard (publish, agent_path, both), 1, "the logistics agent hears only logistics");
    cr_assert_eq (s_heard (publish, lead_path, both), 2, "the finance lead hears only finance");
    cr_assert_eq (s_heard (publish, lead_path, prefix), 0, "a prefix is not a department");
    cr_assert_gt (s_published, 0);
    tf_keys_revoke (tf_test_keys_dir (), agent);
    tf_keys_revoke (tf_test_keys_dir (), lead);
    zstr_free (&publish);
    zactor_destroy (&actor);
}

//  ------------------------------------------------------------------ HTTP

//  An HTTP exchange from a given local address; the status (0: none).
static int
s_http_from (const char *from, int port, const char *request)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in local = { .sin_family = AF_INET };
    inet_pton (AF_INET, from, &local.sin_addr);
    cr_assert_eq (bind (fd, (struct sockaddr *) &local, sizeof local), 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    struct timeval timeout = { .tv_sec = 5 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    int status = 0;
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0
    &&  write (fd, request, strlen (request)) == (ssize_t) strlen (request)) {
        char answer [512] = "";
        if (read (fd, answer, sizeof answer - 1) > 12)
            status = atoi (answer + 9);
    }
    close (fd);
    return status;
}

Test (security, http_takes_live_tokens_and_slow_clients_do_not_stop_it)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_db_t *db = tf_test_db ();
    zactor_t *actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", NULL);
    char *port_text = tf_actor_query (actor, "HTTP-PORT");
    int port = atoi (port_text);
    tf_identity_t who = { .role = TF_ROLE_LEAD, .department = "logistics" };
    snprintf (who.name, sizeof who.name, "sec-http-%.40s", tf_test_unique ());
    char token [64], request [512];
    tf_error_t err;
    cr_assert_eq (tf_token_create (db, &who, token, sizeof token, &err), 0, "%s", err.message);
    //  kept as its SHA-256 only
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM api_tokens WHERE name = '%s'"
                                      " AND token_hash = sha256 (convert_to ('%s', 'UTF8'))", who.name, token), 1);
    snprintf (request, sizeof request, "GET /v1/tickets/CS209901019999 HTTP/1.1\r\nHost: x\r\n"
                                       "Authorization: Bearer %s\r\nConnection: close\r\n\r\n", token);
    cr_assert_eq (s_http_from ("127.0.0.1", port, request), 404);
    //  a lead may not submit: that is an adapter's
    const char *body = "{\"channel\":\"web\",\"body\":\"x\",\"customer\":{\"id\":\"c1\"}}";
    snprintf (request, sizeof request, "POST /v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                                       "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
              token, strlen (body), body);
    cr_assert_eq (s_http_from ("127.0.0.1", port, request), 403);

    //  40 connections that trickle their headers from one address: that
    //  address gets 32, and another client is served at once
    int slow [40];
    for (int i = 0; i < 40; i++) {
        slow [i] = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
        inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
        cr_assert_eq (connect (slow [i], (struct sockaddr *) &addr, sizeof addr), 0);
        cr_assert_gt (write (slow [i], "GET /v1/tickets/CS2 HTTP/1.1\r\nHost: x\r\n", 39), 0);
    }
    snprintf (request, sizeof request, "GET /v1/tickets/CS209901019999 HTTP/1.1\r\nHost: x\r\n"
                                       "Authorization: Bearer %s\r\nConnection: close\r\n\r\n", token);
    int64_t start = zclock_mono ();
    cr_assert_eq (s_http_from ("127.0.0.2", port, request), 404, "a second client was not served");
    cr_assert_lt (zclock_mono () - start, 2000);
    //  and the slow ones are cut after their silence
    struct timeval timeout = { .tv_sec = TF_HTTP_IDLE_SECONDS + 5 };
    setsockopt (slow [0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char byte;
    cr_assert_leq (read (slow [0], &byte, 1), 0, "a silent connection stayed open");
    for (int i = 0; i < 40; i++)
        close (slow [i]);

    //  revoked: refused from the next request on
    cr_assert_eq (tf_token_revoke (db, who.name), 1);
    cr_assert_eq (s_http_from ("127.0.0.1", port, request), 401);
    zstr_free (&port_text);
    zactor_destroy (&actor);
    tf_db_destroy (&db);
}

//  ------------------------------------------------------------------ back-pressure

Test (security, a_client_that_never_reads_costs_a_bounded_queue)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    char *endpoint;
    zactor_t *actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", &endpoint);
    tf_test_stderr_begin ();
    tf_log_init ("test", "warn");
    //  pings it never reads: its replies stop at the queue, the rest are dropped
    zsock_t *deaf = tf_net_connect (ZMQ_DEALER, endpoint, 1 << 20);
    zsock_set_rcvhwm (deaf, 100);
    zsock_set_sndtimeo (deaf, 1000);
    tf_msg_t ping;
    tf_msg_init (&ping, TF_MSG_PING);
    int sent = 0;
    for (int i = 0; i < 60000; i++) {
        zmsg_t *out = zmsg_new ();
        zmsg_addmem (out, "", 0);
        tf_error_t err;
        tf_codec_encode (&ping, out, &err);
        if (zmsg_send (&out, deaf)) {
            zmsg_destroy (&out);
            break;
        }
        sent++;
    }
    //  meanwhile anyone else is answered at once
    zmsg_t *frames;
    tf_msg_t reply;
    tf_error_t err;
    int64_t start = zclock_mono ();
    cr_assert_eq (tf_net_request (endpoint, &ping, 5000, &frames, &reply, &err), 0, "%s", err.message);
    cr_assert_eq (reply.type, TF_MSG_PONG);
    cr_assert_lt (zclock_mono () - start, 2000);
    zmsg_destroy (&frames);
    zclock_sleep (1200);
    char *text = tf_test_stderr_end ();
    cr_assert (strstr (text, "a client is not reading its replies"), "no log line (sent %d): %s", sent, text);
    free (text);
    zsock_destroy (&deaf);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}

//  ------------------------------------------------------------------ private data

Test (security, personal_data_stays_out_of_tickets_outbox_events_replies_and_logs)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    char notifications [PATH_MAX];
    snprintf (notifications, sizeof notifications, "/tmp/tf-security-pii-%d.jsonl", getpid ());
    cfg.notifier_file = notifications;
    tf_db_t *db = tf_test_db ();
    char *endpoint;
    zactor_t *intake = tf_test_service (&intake_service, &cfg, "ENDPOINT", &endpoint);
    tf_test_stderr_begin ();
    tf_log_init ("test", "info");

    //  a customer known by their phone, an "order number" that is an ID
    //  card's, a phone in the product and in the channel's message id
    char phone [16], external [64];
    snprintf (phone, sizeof phone, "139%08d", (int) (getpid () % 100000000));
    snprintf (external, sizeof external, "tel%s-%.20s", phone, tf_test_unique ());
    tf_msg_t m, reply;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "订单有问题,请打电话给我");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, phone);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_ORDER_NO, "ID110101199003071234");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_PRODUCT, phone);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, external);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, &m, 5000, &frames, &reply, &err), 0, "%s", err.message);
    cr_assert_eq (reply.type, TF_MSG_ACCEPTED);
    char ticket_no [32];
    snprintf (ticket_no, sizeof ticket_no, "%.*s", (int) reply.v [TF_F_ACCEPTED_TICKET_NO].len,
              reply.v [TF_F_ACCEPTED_TICKET_NO].str);
    int64_t id = reply.v [TF_F_ACCEPTED_TICKET_ID].i;
    zmsg_destroy (&frames);
    //  the same customer about the same order again: the same ticket, so
    //  the stored (hashed) identifiers still match
    tf_msg_clear (&m);
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "还没人联系我");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, phone);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_ORDER_NO, "ID110101199003071234");
    cr_assert_eq (tf_net_request (endpoint, &m, 5000, &frames, &reply, &err), 0, "%s", err.message);
    cr_assert (reply.type == TF_MSG_ACCEPTED && tf_msg_bool (&reply, TF_F_ACCEPTED_THREADED), "not threaded: %s %.*s",
               tf_schemas [reply.type].name, reply.type == TF_MSG_ERROR? (int) reply.v [TF_F_ERROR_MESSAGE].len: 0,
               reply.type == TF_MSG_ERROR? reply.v [TF_F_ERROR_MESSAGE].str: "");
    zmsg_destroy (&frames);
    tf_msg_clear (&m);
    //  a refused request that quotes the phone
    tf_msg_init (&m, TF_MSG_MESSAGE);
    tf_msg_set_cstr (&m, TF_F_MESSAGE_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_MESSAGE_BODY, "x");
    tf_msg_set_cstr (&m, TF_F_MESSAGE_TICKET_NO, ticket_no);
    tf_msg_set_cstr (&m, TF_F_MESSAGE_CUSTOMER_ID, "13800000000");
    cr_assert_eq (tf_net_request (endpoint, &m, 5000, &frames, &reply, &err), 0, "%s", err.message);
    cr_assert_eq (reply.type, TF_MSG_ERROR);
    zmsg_destroy (&frames);
    //  and the customer's own message, found by their id and order
    tf_msg_clear (&m);
    tf_msg_init (&m, TF_MSG_MESSAGE);
    tf_msg_set_cstr (&m, TF_F_MESSAGE_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_MESSAGE_BODY, "我的电话没变");
    tf_msg_set_cstr (&m, TF_F_MESSAGE_CUSTOMER_ID, phone);
    tf_msg_set_cstr (&m, TF_F_MESSAGE_ORDER_NO, "ID110101199003071234");
    cr_assert_eq (tf_net_request (endpoint, &m, 5000, &frames, &reply, &err), 0, "%s", err.message);
    cr_assert_eq (reply.type, TF_MSG_UPDATED, "the customer's message did not find their ticket");
    zmsg_destroy (&frames);
    tf_msg_clear (&m);

    //  the ticket as a client reads it
    tf_msg_init (&m, TF_MSG_GET);
    tf_msg_set_cstr (&m, TF_F_GET_TICKET_NO, ticket_no);
    cr_assert_eq (tf_net_request (endpoint, &m, 5000, &frames, &reply, &err), 0, "%s", err.message);
    zframe_t *body = zmsg_last (frames);
    json_t *json = tf_json_from_body (zframe_data (body), zframe_size (body));
    char *shown = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    cr_assert (!strstr (shown, phone), "the ticket shows the phone: %s", shown);
    cr_assert (!strstr (shown, "110101199003071234"), "the ticket shows the ID number");
    cr_assert (strstr (shown, "\"customer_id\":\"h:"), "customer_id is not a keyed hash: %s", shown);
    free (shown);
    zmsg_destroy (&frames);
    tf_msg_clear (&m);

    //  nor over HTTP
    char *port = tf_actor_query (intake, "HTTP-PORT"), path_get [96];
    snprintf (path_get, sizeof path_get, "/v1/tickets/%s", ticket_no);
    long status;
    char *http = tf_test_http_get (atoi (port), path_get, &status);
    cr_assert (status == 200 && http && strstr (http, ticket_no), "GET %s: %ld", path_get, status);
    cr_assert (!strstr (http, phone) && !strstr (http, "110101199003071234"), "HTTP shows a number: %s", http);
    free (http);
    zstr_free (&port);

    //  nowhere in what is stored but the sealed contact
    const char *tables [] = { "tickets t WHERE t.id = %lld", "ticket_events t WHERE t.ticket_id = %lld",
                              "outbox t WHERE t.ticket_id = %lld", "ticket_messages t WHERE t.ticket_id = %lld",
                              "ticket_contacts t WHERE t.ticket_id = %lld" };
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql [256];
        snprintf (sql, sizeof sql, tables [i], (long long) id);
        cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM %s AND (t::text LIKE '%%%s%%' OR t::text LIKE"
                                          " '%%110101199003071234%%')", sql, phone), 0, "in %s", tables [i]);
    }
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_contacts WHERE ticket_id = %lld"
                                      " AND pgp_sym_decrypt (phone_sealed, '%s') = '%s'", (long long) id,
                                  tf_private_key (), phone), 1, "the phone is not kept (sealed) for replies");

    //  the notifier reads it to deliver, and the read is on the record
    tf_config_t notifier_cfg = s_alone (&cfg, &notifier_service);
    zactor_t *notifier = tf_test_service (&notifier_service, &notifier_cfg, "ENDPOINT", NULL);
    cr_assert_eq (tf_test_wait_scalar (db, 1, 10000, "SELECT count(*) FROM contact_reads WHERE %lld = ANY (ticket_ids)"
                                       " AND reader = 'ticketflow_notifier' AND purpose = 'delivery'", (long long) id), 1);
    zactor_destroy (&notifier);

    char *text = tf_test_stderr_end ();
    cr_assert (!strstr (text, phone) && !strstr (text, "13800000000") && !strstr (text, "110101199003071234"),
               "a log line carries a personal number: %s", text);
    free (text);
    char *file = tf_test_read_file (notifications);
    cr_assert (!file || !strstr (file, phone), "a message carries the phone: %s", file);
    free (file);
    unlink (notifications);
    zstr_free (&endpoint);
    zactor_destroy (&intake);
    tf_db_destroy (&db);
}

//  ------------------------------------------------------------------ database roles

//  Runs sql as `role` (SET ROLE, rolled back); its SQLSTATE, "" when it
//  succeeded.
static void
s_as_role (tf_db_t *db, const char *role, const char *sql, char *state, size_t size)
{
    char set [96];
    snprintf (set, sizeof set, "SET LOCAL ROLE %s", role);
    cr_assert_eq (tf_db_exec (db, "BEGIN"), 0);
    cr_assert_eq (tf_db_exec (db, set), 0, "no role %s (migration 011)", role);
    PGresult *res = tf_db_query (db, sql, 0, NULL);
    const char *code = res? PQresultErrorField (res, PG_DIAG_SQLSTATE): NULL;
    snprintf (state, size, "%s", code? code: "");
    PQclear (res);
    tf_db_exec (db, "ROLLBACK");
}

Test (security, each_database_role_may_do_its_part_only)
{
    tf_db_t *db = tf_test_db ();
    const char *roles [] = { "ticketflow_intake", "ticketflow_classifier", "ticketflow_dispatcher",
                             "ticketflow_sla", "ticketflow_notifier", "ticketflow_reporting" };
    //  what no service may do
    const char *never [] = {
        "DELETE FROM ticket_events WHERE false",            //  the history is insert-only
        "UPDATE ticket_events SET note = 'x' WHERE false",
        "TRUNCATE ticket_events",
        "DELETE FROM tickets WHERE false",                  //  its cascade would empty the history
        "SELECT name_sealed FROM ticket_contacts",
        "UPDATE tickets SET body = 'x' WHERE false",        //  what the customer wrote stays
        "CREATE TABLE tf_mine (i int)",
        "COPY (SELECT 1) TO PROGRAM 'true'",
        "SELECT pg_read_file ('/etc/passwd')",
        "ALTER TABLE tickets ADD COLUMN x int",
        "DELETE FROM contact_reads WHERE false",
        "UPDATE api_tokens SET role = 'operator' WHERE false",
    };
    char state [8];
    for (size_t r = 0; r < sizeof roles / sizeof *roles; r++)
        for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
            s_as_role (db, roles [r], never [i], state, sizeof state);
            cr_assert (*state, "%s may: %s", roles [r], never [i]);
            cr_assert (streq (state, "42501") || streq (state, "42P01"), "%s: %s gave %s", roles [r], never [i], state);
        }
    //  each its own part, and not another's
    struct { const char *role, *sql; bool allowed; } cases [] = {
        { "ticketflow_reporting", "SELECT count(*) FROM tickets", true },
        { "ticketflow_reporting", "UPDATE tickets SET closed_at = now () WHERE false", true },
        { "ticketflow_reporting", "UPDATE tickets SET department = 'x' WHERE false", false },
        { "ticketflow_reporting", "INSERT INTO outbox (kind, sink, payload) VALUES ('x', 'file', '{}')", false },
        { "ticketflow_reporting", "SELECT phone_sealed FROM ticket_contacts", false },
        { "ticketflow_notifier", "SELECT pgp_sym_decrypt (phone_sealed, 'k') FROM ticket_contacts WHERE false", true },
        { "ticketflow_notifier", "UPDATE tickets SET assignee = 'x' WHERE false", false },
        { "ticketflow_intake", "SELECT phone_sealed FROM ticket_contacts", false },
        { "ticketflow_intake", "UPDATE tickets SET status = 'closed' WHERE false", false },
        { "ticketflow_intake", "INSERT INTO api_tokens (name, role, channel, token_hash) VALUES ('x', 'adapter', 'web', '\\x00')", true },
        { "ticketflow_classifier", "UPDATE tickets SET subcategory = 'x' WHERE false", true },
        { "ticketflow_classifier", "UPDATE tickets SET assignee = 'x' WHERE false", false },
        { "ticketflow_classifier", "INSERT INTO api_tokens (name, role, token_hash) VALUES ('x', 'operator', '\\x00')", false },
        { "ticketflow_dispatcher", "INSERT INTO agents (name, department, role) VALUES ('x', 'frontline', 'agent')", true },
        { "ticketflow_sla", "INSERT INTO agents (name, department, role) VALUES ('x', 'frontline', 'agent')", false },
        { "ticketflow_sla", "INSERT INTO ticket_events (ticket_id, kind, actor) SELECT id, 'x', 'y' FROM tickets LIMIT 1", true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_as_role (db, cases [i].role, cases [i].sql, state, sizeof state);
        if (cases [i].allowed)
            cr_assert_str_empty (state, "%s was refused (%s): %s", cases [i].role, state, cases [i].sql);
        else
            cr_assert_str_eq (state, "42501", "%s: %s", cases [i].role, cases [i].sql);
    }
    //  the services log in with the passwords ticketflow-migrate made
    char pgpass [PATH_MAX + 16];
    snprintf (pgpass, sizeof pgpass, "%s/pgpass", tf_test_keys_dir ());
    char *url = tf_db_service_url (getenv ("DATABASE_URL"), "reporting", pgpass);
    cr_assert (strstr (url, "user='ticketflow_reporting'"), "%s", url);
    //  a URI's user and password give way too
    char *uri = tf_db_service_url ("postgresql://ticketflow:secret@db:5433/ticketflow", "sla", pgpass);
    cr_assert (strstr (uri, "user='ticketflow_sla'") && strstr (uri, "host='db'") && strstr (uri, "port='5433'")
               && !strstr (uri, "secret"), "%s", uri);
    free (uri);
    tf_db_t *reporting = tf_db_new (url, "test", "UTC", 5000);
    cr_assert (reporting && tf_db_conn (reporting), "the reporting role cannot log in");
    cr_assert_eq (tf_test_scalar (reporting, "SELECT count(*) FROM pg_roles WHERE rolname = current_user"
                                             " AND rolname = 'ticketflow_reporting' AND NOT rolsuper"), 1);
    tf_db_destroy (&reporting);
    free (url);
    tf_db_destroy (&db);
}

//  ------------------------------------------------------------------ TLS

Test (security, http_speaks_tls_when_given_a_certificate)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    char dir [] = "/tmp/tf-tls-XXXXXX";
    cr_assert (mkdtemp (dir));
    char cert [64], key [64], command [512];
    snprintf (cert, sizeof cert, "%s/cert.pem", dir);
    snprintf (key, sizeof key, "%s/key.pem", dir);
    snprintf (command, sizeof command, "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=ticketflow-test"
                                       " -keyout %s -out %s 2>/dev/null", key, cert);
    cr_assert_eq (system (command), 0, "openssl could not make a test certificate");
    cfg.http_tls_cert = cert;
    cfg.http_tls_key = key;
    tf_test_token ();
    zactor_t *actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", NULL);
    char *port = tf_actor_query (actor, "HTTP-PORT");
    char url [128];
    snprintf (url, sizeof url, "https://127.0.0.1:%s/v1/tickets/CS209901019999", port);
    long status;
    free (tf_test_https_get (url, cert, &status));
    cr_assert_eq (status, 404, "no answer over HTTPS");
    snprintf (url, sizeof url, "http://127.0.0.1:%s/v1/tickets/CS209901019999", port);
    free (tf_test_https_get (url, NULL, &status));
    cr_assert_eq (status, 0, "plain HTTP was answered");
    zstr_free (&port);
    zactor_destroy (&actor);
    snprintf (command, sizeof command, "rm -rf %s", dir);
    cr_assert_eq (system (command), 0);
}
