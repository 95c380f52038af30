#include "ticketctl.h"
#include "tf_json.h"
#include "tf_net.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NO_POSITIONAL TF_FIELD_COUNT
//  a flag ticketctl acts on itself rather than send (ping --service)
#define NOT_A_FIELD TF_FIELD_COUNT
#define END_FLAGS { NULL, 0, NULL }

//  The one list of commands: the parser and `ticketctl help` both read it.

static const ticketctl_command_t s_commands [] = {
    { "submit", "submit a ticket; prints its number", TF_MSG_SUBMIT, TICKETCTL_INTAKE,
      NO_POSITIONAL, NULL, {
        { "--channel", TF_F_SUBMIT_CHANNEL, "app, web, wechat, weibo, douyin, taobao, jd, email, phone, chat, monitor, internal" },
        { "--customer", TF_F_CUSTOMER_ID, "customer id (required)" },
        { "--body", TF_F_SUBMIT_BODY, "the problem in the customer's words (required)" },
        { "--subject", TF_F_SUBMIT_SUBJECT, "short title" },
        { "--external-id", TF_F_SUBMIT_EXTERNAL_ID, "the channel's message id (makes repeats idempotent)" },
        { "--source", TF_F_SUBMIT_SOURCE, "customer, monitor or internal" },
        { "--customer-type", TF_F_CUSTOMER_TYPE, "new or returning" },
        { "--customer-name", TF_F_CUSTOMER_NAME, "name" },
        { "--customer-phone", TF_F_CUSTOMER_PHONE, "phone" },
        { "--customer-email", TF_F_CUSTOMER_EMAIL, "e-mail" },
        { "--order-no", TF_F_SUBMIT_ORDER_NO, "order number" },
        { "--product", TF_F_SUBMIT_PRODUCT, "product or model" },
        { "--wants", TF_F_SUBMIT_WANTS, "refund, return, exchange, compensation, apology, repair, information, other" },
        { "--expected-at", TF_F_SUBMIT_EXPECTED_AT, "RFC 3339 time the customer expects an answer" },
        { "--contacted-at", TF_F_SUBMIT_CONTACTED_AT, "RFC 3339 time the customer wrote or called (the clocks start there)" },
        { "--error-text", TF_F_SUBMIT_ERROR_TEXT, "error shown (technical faults)" },
        { "--steps", TF_F_SUBMIT_STEPS, "steps to reproduce" },
        { "--alert-type", TF_F_SUBMIT_ALERT_TYPE, "monitor alert type" },
        { "--alert-scope", TF_F_SUBMIT_ALERT_SCOPE, "monitor alert scope" },
        { "--thread-id", TF_F_SUBMIT_THREAD_ID, "the channel's conversation id (later messages join this ticket)" },
        END_FLAGS } },
    //  read by s_feed, which sends a ticket.submit per object of the file
    { "feed", "submit every ticket of a JSON array (objects with the ticket.submit fields)",
      TF_MSG_SUBMIT, TICKETCTL_INTAKE, NO_POSITIONAL, "FILE.json", { END_FLAGS } },
    { "show", "print a ticket with its history", TF_MSG_GET, TICKETCTL_INTAKE,
      TF_F_GET_TICKET_NO, "TICKET_NO", { END_FLAGS } },
    { "classify", "a person classifies a ticket (e.g. one in triage); recorded as a correction",
      TF_MSG_CLASSIFY_TICKET, TICKETCTL_CLASSIFIER, TF_F_CLASSIFY_TICKET_TICKET_NO, "TICKET_NO", {
        { "--subcategory", TF_F_CLASSIFY_TICKET_SUBCATEGORY, "sub-category name as in the taxonomy (required)" },
        { "--priority", TF_F_CLASSIFY_TICKET_PRIORITY, "P1, P2 or P3 (default: the sub-category's)" },
        { "--actor", TF_F_CLASSIFY_TICKET_ACTOR, "who classified it" },
        END_FLAGS } },
    //  the same command with a text instead of a ticket number (CS + digits)
    //  and no --subcategory: what the classifier would decide, nothing stored
    { "classify", "classify a text without creating a ticket: category, sub-category, third level,\n"
      "      priority, confidence, sentiment, priority reasons and the top three alternatives",
      TF_MSG_CLASSIFY_TEXT, TICKETCTL_CLASSIFIER, TF_F_CLASSIFY_TEXT_TEXT, "\"TEXT\"", {
        { "--subject", TF_F_CLASSIFY_TEXT_SUBJECT, "short title" },
        { "--source", TF_F_CLASSIFY_TEXT_SOURCE, "customer, monitor or internal" },
        { "--alert-scope", TF_F_CLASSIFY_TEXT_ALERT_SCOPE, "monitor alert scope (affects 10% of orders)" },
        END_FLAGS } },
    { "queue", "a department's (or an agent's) open tickets, most urgent first; --status triage: the\n"
      "      tickets a person must classify",
      TF_MSG_QUEUE_LIST, TICKETCTL_DISPATCHER, NO_POSITIONAL, NULL, {
        { "--department", TF_F_QUEUE_LIST_DEPARTMENT, "department code (required unless --status triage or --agent)" },
        { "--agent", TF_F_QUEUE_LIST_AGENT, "only the tickets assigned to this agent" },
        { "--status", TF_F_QUEUE_LIST_STATUS, "only this status: triage, assigned, accepted, in_progress, on_hold, reopened, resolved" },
        { "--limit", TF_F_QUEUE_LIST_LIMIT, "at most this many (default 100)" },
        END_FLAGS } },
    { "accept", "an agent takes an assigned ticket", TF_MSG_ACCEPT, TICKETCTL_DISPATCHER,
      TF_F_ACCEPT_TICKET_NO, "TICKET_NO", {
        { "--agent", TF_F_ACCEPT_AGENT, "the agent (required)" },
        END_FLAGS } },
    { "transfer", "move a ticket to another agent or department; with neither, to its second line\n"
      "      (the department its sub-category names: the front line hands over when the steps fail)",
      TF_MSG_TRANSFER, TICKETCTL_DISPATCHER, TF_F_TRANSFER_TICKET_NO, "TICKET_NO", {
        { "--department", TF_F_TRANSFER_DEPARTMENT, "target department code" },
        { "--agent", TF_F_TRANSFER_AGENT, "target agent (on duty)" },
        { "--reason", TF_F_TRANSFER_REASON, "why (required)" },
        { "--actor", TF_F_TRANSFER_ACTOR, "who" },
        END_FLAGS } },
    { "agent add", "put a person on the roster", TF_MSG_AGENT_ADD, TICKETCTL_DISPATCHER,
      TF_F_AGENT_ADD_NAME, "NAME", {
        { "--department", TF_F_AGENT_ADD_DEPARTMENT, "department code (required)" },
        { "--role", TF_F_AGENT_ADD_ROLE, "agent (客服专员), team_lead (组长), supervisor (主管) or manager (经理) (required)" },
        { "--skills", TF_F_AGENT_ADD_SKILLS, "sub-category codes they handle, comma-separated (default: all)" },
        { "--capacity", TF_F_AGENT_ADD_CAPACITY, "most open tickets at once (default 10)" },
        { "--on-duty", TF_F_AGENT_ADD_ON_DUTY, "yes or no (default no)" },
        { "--duty-manager", TF_F_AGENT_ADD_DUTY_MANAGER, "yes: the shift's on-duty manager" },
        { "--contact", TF_F_AGENT_ADD_CONTACT, "phone or chat id for reminders and escalations" },
        END_FLAGS } },
    { "agent update", "change a person on the roster (absent flags stay)", TF_MSG_AGENT_UPDATE, TICKETCTL_DISPATCHER,
      TF_F_AGENT_UPDATE_NAME, "NAME", {
        { "--department", TF_F_AGENT_UPDATE_DEPARTMENT, "department code" },
        { "--role", TF_F_AGENT_UPDATE_ROLE, "agent, team_lead, supervisor or manager" },
        { "--skills", TF_F_AGENT_UPDATE_SKILLS, "sub-category codes, comma-separated (\"\": all)" },
        { "--capacity", TF_F_AGENT_UPDATE_CAPACITY, "most open tickets at once" },
        { "--contact", TF_F_AGENT_UPDATE_CONTACT, "phone or chat id" },
        END_FLAGS } },
    { "agent duty", "on or off duty; off duty hands their open tickets back to the pool", TF_MSG_AGENT_DUTY,
      TICKETCTL_DISPATCHER, TF_F_AGENT_DUTY_NAME, "NAME", {
        { "--on", TF_F_AGENT_DUTY_ON_DUTY, "yes (on duty) or no (off duty) (required)" },
        { "--duty-manager", TF_F_AGENT_DUTY_DUTY_MANAGER, "yes or no: the shift's on-duty manager" },
        END_FLAGS } },
    { "agent list", "the roster: role, duty, load and capacity, skills", TF_MSG_AGENT_LIST, TICKETCTL_DISPATCHER,
      NO_POSITIONAL, NULL, {
        { "--department", TF_F_AGENT_LIST_DEPARTMENT, "only this department" },
        END_FLAGS } },
    { "progress", "add a progress note (starts handling)", TF_MSG_PROGRESS, TICKETCTL_SLA,
      TF_F_PROGRESS_TICKET_NO, "TICKET_NO", {
        { "--note", TF_F_PROGRESS_NOTE, "what was done (required)" },
        { "--actor", TF_F_PROGRESS_ACTOR, "who" },
        { "--public", TF_F_PROGRESS_PUBLIC, "yes: the customer gets this step (the progress message)" },
        END_FLAGS } },
    { "reply", "a public reply to the customer (in the thread and sent); --ask yes: a request for\n"
      "      missing information, and the ticket waits on hold for the answer", TF_MSG_REPLY, TICKETCTL_SLA,
      TF_F_REPLY_TICKET_NO, "TICKET_NO", {
        { "--text", TF_F_REPLY_TEXT, "what the customer reads (required)" },
        { "--ask", TF_F_REPLY_ASK, "yes: ask the customer for missing information" },
        { "--actor", TF_F_REPLY_ACTOR, "who" },
        END_FLAGS } },
    { "note", "an internal note in the thread (never sent to the customer)", TF_MSG_NOTE, TICKETCTL_SLA,
      TF_F_NOTE_TICKET_NO, "TICKET_NO", {
        { "--text", TF_F_NOTE_TEXT, "the note (required)" },
        { "--actor", TF_F_NOTE_ACTOR, "who" },
        END_FLAGS } },
    { "hold", "put a ticket on hold", TF_MSG_HOLD, TICKETCTL_SLA, TF_F_HOLD_TICKET_NO, "TICKET_NO", {
        { "--reason", TF_F_HOLD_REASON, "why it waits (required)" },
        { "--until", TF_F_HOLD_UNTIL, "expected resume time, RFC 3339 (required)" },
        { "--actor", TF_F_HOLD_ACTOR, "who" },
        END_FLAGS } },
    { "resume", "resume a ticket on hold", TF_MSG_RESUME, TICKETCTL_SLA, TF_F_RESUME_TICKET_NO, "TICKET_NO", {
        { "--actor", TF_F_RESUME_ACTOR, "who" },
        END_FLAGS } },
    { "resolve", "resolve a ticket", TF_MSG_RESOLVE, TICKETCTL_SLA, TF_F_RESOLVE_TICKET_NO, "TICKET_NO", {
        { "--summary", TF_F_RESOLVE_SUMMARY, "result summary (required)" },
        { "--actor", TF_F_RESOLVE_ACTOR, "who" },
        END_FLAGS } },
    { "feedback", "the customer's answer to a resolved ticket", TF_MSG_FEEDBACK, TICKETCTL_INTAKE,
      TF_F_FEEDBACK_TICKET_NO, "TICKET_NO", {
        { "--solved", TF_F_FEEDBACK_SOLVED, "yes or no (required)" },
        { "--csat", TF_F_FEEDBACK_CSAT, "satisfaction 1-5" },
        { "--comment", TF_F_FEEDBACK_COMMENT, "free text" },
        END_FLAGS } },
    { "message", "a customer's further message, into their ticket's thread (as a channel adapter\n"
      "      sends it): by --ticket, else --thread-id, else --customer with --order-no", TF_MSG_MESSAGE,
      TICKETCTL_INTAKE, NO_POSITIONAL, NULL, {
        { "--channel", TF_F_MESSAGE_CHANNEL, "the channel it came on (required)" },
        { "--text", TF_F_MESSAGE_BODY, "the message (required)" },
        { "--ticket", TF_F_MESSAGE_TICKET_NO, "the ticket number" },
        { "--thread-id", TF_F_MESSAGE_THREAD_ID, "the channel's conversation id" },
        { "--customer", TF_F_MESSAGE_CUSTOMER_ID, "the customer's id (a ticket of another customer never matches)" },
        { "--order-no", TF_F_MESSAGE_ORDER_NO, "the order it is about" },
        END_FLAGS } },
    { "survey", "the customer's answers to the follow-up survey of a settled ticket", TF_MSG_SURVEY,
      TICKETCTL_INTAKE, TF_F_SURVEY_TICKET_NO, "TICKET_NO", {
        { "--csat", TF_F_SURVEY_CSAT, "satisfaction 1-5 (4-5 tags the ticket 满意, 1-2 opens a review)" },
        { "--nps", TF_F_SURVEY_NPS, "how likely to recommend us, 0-10" },
        { "--efficiency", TF_F_SURVEY_EFFICIENCY, "处理效率 1-5" },
        { "--attitude", TF_F_SURVEY_ATTITUDE, "服务态度 1-5" },
        { "--result", TF_F_SURVEY_RESULT, "处理结果 1-5" },
        { "--comment", TF_F_SURVEY_COMMENT, "free text" },
        END_FLAGS } },
    { "queue --followups", "open follow-up tasks, soonest due first: calls after settled tickets, reviews\n"
      "      after low scores", TF_MSG_FOLLOWUP_LIST, TICKETCTL_NOTIFIER, NO_POSITIONAL, NULL, {
        { "--department", TF_F_FOLLOWUP_LIST_DEPARTMENT, "only this department" },
        { "--agent", TF_F_FOLLOWUP_LIST_AGENT, "only this person's" },
        { "--limit", TF_F_FOLLOWUP_LIST_LIMIT, "at most this many (default 100)" },
        END_FLAGS } },
    { "followup done", "a follow-up task is done, with the customer's answers when the call got them",
      TF_MSG_FOLLOWUP_DONE, TICKETCTL_NOTIFIER, TF_F_FOLLOWUP_DONE_TICKET_NO, "TICKET_NO", {
        { "--kind", TF_F_FOLLOWUP_DONE_KIND, "call (default) or review" },
        { "--note", TF_F_FOLLOWUP_DONE_NOTE, "what came of it" },
        { "--actor", TF_F_FOLLOWUP_DONE_ACTOR, "who" },
        { "--csat", TF_F_FOLLOWUP_DONE_CSAT, "satisfaction 1-5" },
        { "--nps", TF_F_FOLLOWUP_DONE_NPS, "0-10" },
        { "--efficiency", TF_F_FOLLOWUP_DONE_EFFICIENCY, "处理效率 1-5" },
        { "--attitude", TF_F_FOLLOWUP_DONE_ATTITUDE, "服务态度 1-5" },
        { "--result", TF_F_FOLLOWUP_DONE_RESULT, "处理结果 1-5" },
        END_FLAGS } },
    { "digest", "send today's digest now (one message per customer with open tickets; once a day)",
      TF_MSG_DIGEST_SEND, TICKETCTL_NOTIFIER, NO_POSITIONAL, NULL, { END_FLAGS } },
    { "report", "the summary report; each list of counts most first", TF_MSG_REPORT_SUMMARY, TICKETCTL_REPORTING,
      NO_POSITIONAL, NULL, { END_FLAGS } },
    //  local commands: they write the keys folder and send nothing
    { "cert init", "create the keys folder's missing keys: the server's, the six services' and the\n"
      "      operator's (make start does this)", TF_MSG_NONE, TICKETCTL_INTAKE, NO_POSITIONAL, NULL, { END_FLAGS } },
    { "cert create", "issue a client certificate and put its key on the allow-list (from its next\n"
      "      connection on); --out gets the secret file (mode 0600) that the client presents with --cert",
      TF_MSG_NONE, TICKETCTL_INTAKE, NO_POSITIONAL, NULL, {
        { "--name", NOT_A_FIELD, "who it is: the agent's roster name, the adapter's name (required)" },
        { "--role", NOT_A_FIELD, "adapter, agent, lead or operator (required)" },
        { "--department", NOT_A_FIELD, "an agent's or lead's department (required for them)" },
        { "--channel", NOT_A_FIELD, "an adapter's channel (required for adapters)" },
        { "--out", NOT_A_FIELD, "where the certificate goes (default KEYS_DIR/NAME.key_secret)" },
        END_FLAGS } },
    { "cert revoke", "take a name off the allow-list: its key is refused from the next connection",
      TF_MSG_NONE, TICKETCTL_INTAKE, NO_POSITIONAL, "NAME", { END_FLAGS } },
    { "token create", "issue an HTTP bearer token (operators only); prints it once: only its hash is kept",
      TF_MSG_TOKEN_CREATE, TICKETCTL_INTAKE, NO_POSITIONAL, NULL, {
        { "--name", TF_F_TOKEN_CREATE_NAME, "whom it is for (required)" },
        { "--role", TF_F_TOKEN_CREATE_ROLE, "adapter, agent, lead or operator (required)" },
        { "--department", TF_F_TOKEN_CREATE_DEPARTMENT, "an agent's or lead's department" },
        { "--channel", TF_F_TOKEN_CREATE_CHANNEL, "an adapter's channel" },
        END_FLAGS } },
    { "token revoke", "revoke a name's live HTTP tokens (operators only)", TF_MSG_TOKEN_REVOKE, TICKETCTL_INTAKE,
      TF_F_TOKEN_REVOKE_NAME, "NAME", { END_FLAGS } },
    { "ping", "check that a service answers", TF_MSG_PING, TICKETCTL_INTAKE, NO_POSITIONAL, NULL, {
        { "--service", NOT_A_FIELD, "intake, classifier, dispatcher, sla, notifier or reporting (default intake)" },
        END_FLAGS } },
};
static const size_t s_command_count = sizeof s_commands / sizeof s_commands [0];

static const char *s_service_names [] = {
    "intake", "classifier", "dispatcher", "sla", "notifier", "reporting"
};

static const char *s_settings [] = {
    "intake-endpoint", "classifier-endpoint", "dispatcher-endpoint", "sla-endpoint",
    "notifier-endpoint", "reporting-endpoint", "request-timeout-ms", "security", "keys-dir", "cert", NULL
};

const ticketctl_command_t *
ticketctl_command (size_t index)
{
    return index < s_command_count? &s_commands [index]: NULL;
}

const char *
ticketctl_endpoint (const tf_config_t *cfg, ticketctl_service_t service)
{
    switch (service) {
        case TICKETCTL_INTAKE:     return cfg->intake_endpoint;
        case TICKETCTL_CLASSIFIER: return cfg->classifier_endpoint;
        case TICKETCTL_DISPATCHER: return cfg->dispatcher_endpoint;
        case TICKETCTL_SLA:        return cfg->sla_endpoint;
        case TICKETCTL_NOTIFIER:   return cfg->notifier_endpoint;
        case TICKETCTL_REPORTING:  return cfg->reporting_endpoint;
    }
    return cfg->intake_endpoint;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "ticketctl — talk to the ticketflow services (proto/events.md)\n\n"
                  "Usage: ticketctl COMMAND [ARGS] [--json] [--SETTING=VALUE]\n\nCommands:\n");
    for (size_t i = 0; i < s_command_count; i++) {
        const ticketctl_command_t *c = &s_commands [i];
        fprintf (out, "  %s%s%s\n      %s\n", c->name, c->positional_name? " ": "",
                 c->positional_name? c->positional_name: "", c->summary);
        for (const ticketctl_flag_t *f = c->flags; f->flag; f++)
            fprintf (out, "      %-18s %s\n", f->flag, f->help);
    }
    fprintf (out, "\nEvery command takes --json (print the reply as JSON).\n");
    tf_config_print_help (out, s_settings, "ticketctl",
        "Exit codes: 0 ok, 1 the service refused (its message is printed), 2 usage, 3 no answer.");
}

static int
s_set_field (tf_msg_t *m, tf_field_id_t f, const char *value, const char *flag, FILE *err)
{
    const tf_field_def_t *def = &tf_fields [f];
    switch (def->type) {
        case TF_TYPE_INT: {
            char *end;
            long long v = strtoll (value, &end, 10);
            if (*value == 0 || *end) {
                fprintf (err, "error: %s needs an integer, not '%s'\n", flag, value);
                return -1;
            }
            tf_msg_set_int (m, f, v);
            return 0;
        }
        case TF_TYPE_BOOL:
            if (strcasecmp (value, "yes") == 0 || strcasecmp (value, "true") == 0 || strcmp (value, "1") == 0)
                tf_msg_set_bool (m, f, true);
            else
            if (strcasecmp (value, "no") == 0 || strcasecmp (value, "false") == 0 || strcmp (value, "0") == 0)
                tf_msg_set_bool (m, f, false);
            else {
                fprintf (err, "error: %s needs yes or no, not '%s'\n", flag, value);
                return -1;
            }
            return 0;
        default:
            tf_msg_set_cstr (m, f, value);
            return 0;
    }
}

static void
s_print_json (FILE *out, json_t *json)
{
    char *text = json_dumps (json, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_REAL_PRECISION (12));
    fprintf (out, "%s\n", text? text: "null");
    free (text);
}

static const char *
s_str (json_t *obj, const char *key)
{
    const char *s = json_string_value (json_object_get (obj, key));
    return s? s: "-";
}

static void
s_print_ticket (FILE *out, json_t *t)
{
    fprintf (out, "%s  %s  %s/%s  priority %s\n", s_str (t, "ticket_no"), s_str (t, "status"),
             s_str (t, "category"), s_str (t, "subcategory"), s_str (t, "priority"));
    fprintf (out, "  channel     %s (%s), customer %s\n", s_str (t, "channel"), s_str (t, "source"),
             s_str (t, "customer_id"));
    if (json_is_string (json_object_get (t, "subject")))
        fprintf (out, "  subject     %s\n", s_str (t, "subject"));
    fprintf (out, "  body        %s\n", s_str (t, "body"));
    fprintf (out, "  department  %s, assignee %s\n", s_str (t, "department"), s_str (t, "assignee"));
    json_t *reasons = json_object_get (t, "priority_reasons");
    if (json_array_size (reasons) > 0 || json_is_number (json_object_get (t, "sentiment"))) {
        fprintf (out, "  why         ");
        size_t i;
        json_t *r;
        json_array_foreach (reasons, i, r)
            fprintf (out, "%s%s", i? ", ": "", json_string_value (r));
        if (json_is_number (json_object_get (t, "sentiment")))
            fprintf (out, "%ssentiment %.2f", json_array_size (reasons)? "; ": "",
                     json_number_value (json_object_get (t, "sentiment")));
        if (json_is_integer (json_object_get (t, "incident_id")))
            fprintf (out, "; mass incident %lld", (long long) json_integer_value (json_object_get (t, "incident_id")));
        fprintf (out, "\n");
    }
    static const char *const levels [] = { "handler", "组长 team lead", "主管 supervisor", "经理 manager" };
    json_int_t level = json_integer_value (json_object_get (t, "escalation_level"));
    if (level > 0 && level <= 3)
        fprintf (out, "  escalated   level %lld (%s): %s\n", (long long) level, levels [level],
                 s_str (t, "escalated_to"));
    if (json_is_string (json_object_get (t, "deadline_rule")))
        fprintf (out, "  rule        %s\n", s_str (t, "deadline_rule"));
    fprintf (out, "  deadlines   respond by %s, resolve by %s\n", s_str (t, "response_due_at"),
             s_str (t, "resolve_due_at"));
    size_t k;
    json_t *d;
    json_array_foreach (json_object_get (t, "deadlines"), k, d)
        fprintf (out, "    %-16s %s  %s\n", s_str (d, "kind"), s_str (d, "due_at"), s_str (d, "state"));
    size_t j;
    json_t *item;
    json_t *tags = json_object_get (t, "tags");
    if (json_array_size (tags) > 0) {
        fprintf (out, "  tags       ");
        json_array_foreach (tags, j, item)
            fprintf (out, " %s", json_string_value (item));
        fprintf (out, "\n");
    }
    json_t *customer = json_object_get (t, "customer_history");
    if (json_integer_value (json_object_get (customer, "tickets")) > 0) {
        fprintf (out, "  customer    %lld earlier ticket(s), %lld open, %lld complaint(s) in 90 days, "
                      "%lld about the same problem\n",
                 (long long) json_integer_value (json_object_get (customer, "tickets")),
                 (long long) json_integer_value (json_object_get (customer, "open")),
                 (long long) json_integer_value (json_object_get (customer, "complaints_90_days")),
                 (long long) json_integer_value (json_object_get (customer, "same_problem")));
        json_array_foreach (json_object_get (customer, "recent"), j, item)
            fprintf (out, "    %-16s %-12s %s\n", s_str (item, "ticket_no"), s_str (item, "status"),
                     s_str (item, "subcategory"));
    }
    json_t *thread = json_object_get (t, "thread");
    if (json_array_size (thread) > 0) {
        fprintf (out, "  thread\n");
        json_array_foreach (thread, j, item) {
            const char *direction = s_str (item, "direction");
            fprintf (out, "    %s  %-10s %s%s%s  %s\n", s_str (item, "at"), s_str (item, "author"),
                     streq (direction, "in")? "← customer": streq (direction, "out")? "→ customer": "(internal note)",
                     json_is_string (json_object_get (item, "delivery"))? ", ": "",
                     json_is_string (json_object_get (item, "delivery"))? s_str (item, "delivery"): "",
                     s_str (item, "body"));
        }
    }
    json_t *messages = json_object_get (t, "messages");
    if (json_array_size (messages) > 0) {
        fprintf (out, "  messages\n");
        json_array_foreach (messages, j, item) {
            fprintf (out, "    %-22s %-8s %-6s via %-8s attempts %lld", s_str (item, "kind"), s_str (item, "to"),
                     s_str (item, "state"), s_str (item, "sink"),
                     (long long) json_integer_value (json_object_get (item, "attempts")));
            if (json_is_string (json_object_get (item, "error")))
                fprintf (out, "  (%s)", s_str (item, "error"));
            fprintf (out, "\n");
        }
    }
    json_array_foreach (json_object_get (t, "followups"), j, item)
        fprintf (out, "  follow-up   %s by %s, due %s%s%s\n", s_str (item, "kind"), s_str (item, "assignee"),
                 s_str (item, "due_at"), json_is_string (json_object_get (item, "done_at"))? ", done ": "",
                 json_is_string (json_object_get (item, "done_at"))? s_str (item, "done_at"): "");
    fprintf (out, "  history\n");
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get (t, "history"), i, e) {
        fprintf (out, "    %s  %-12s %s -> %s  by %s", s_str (e, "at"), s_str (e, "event"),
                 s_str (e, "from"), s_str (e, "to"), s_str (e, "actor"));
        if (json_is_string (json_object_get (e, "note")))
            fprintf (out, "  \"%s\"", s_str (e, "note"));
        fprintf (out, "\n");
    }
}

typedef struct {
    const char *name;
    long long count;
} count_row_t;

static int
s_most_first (const void *a, const void *b)
{
    const count_row_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count? -1: 1;
    return strcmp (x->name, y->name);
}

void
ticketctl_print_counts (FILE *out, const char *title, json_t *counts)
{
    //  the report's maps come in jsonb's key order (short keys first), which
    //  tells a reader nothing: the biggest share is what they look for
    size_t size = json_object_size (counts), rows = 0;
    count_row_t *row = calloc (size? size: 1, sizeof *row);
    assert (row);
    const char *key;
    json_t *value;
    json_object_foreach (counts, key, value)
        if (json_integer_value (value) > 0)
            row [rows++] = (count_row_t) { key, (long long) json_integer_value (value) };
    qsort (row, rows, sizeof *row, s_most_first);
    fprintf (out, "  %-14s", title);
    for (size_t i = 0; i < rows; i++)
        fprintf (out, " %s %lld", row [i].name, row [i].count);
    fprintf (out, "\n");
    free (row);
}

static void
s_print_number (FILE *out, const char *title, json_t *value, double scale, const char *unit)
{
    if (json_is_number (value))
        fprintf (out, "  %-14s %.2f%s\n", title, json_number_value (value) * scale, unit);
    else
        fprintf (out, "  %-14s -\n", title);
}

//  The summary report for people; --json gives every key
static void
s_print_report (FILE *out, json_t *r)
{
    fprintf (out, "ticketflow report, %s\n", s_str (r, "generated_at"));
    fprintf (out, "  %-14s %lld tickets, %lld open\n", "total",
             (long long) json_integer_value (json_object_get (r, "total")),
             (long long) json_integer_value (json_object_get (r, "open")));
    ticketctl_print_counts (out, "by status", json_object_get (r, "by_status"));
    ticketctl_print_counts (out, "by priority", json_object_get (r, "by_priority"));
    ticketctl_print_counts (out, "by category", json_object_get (r, "by_category"));
    ticketctl_print_counts (out, "by department", json_object_get (r, "by_department"));
    ticketctl_print_counts (out, "by channel", json_object_get (r, "by_channel"));
    ticketctl_print_counts (out, "top problems", json_object_get (r, "by_subcategory"));
    s_print_number (out, "1st response", json_object_get (r, "avg_first_response_seconds"), 1.0 / 60, " min");
    s_print_number (out, "resolution", json_object_get (r, "avg_resolution_seconds"), 1.0 / 3600, " h");
    s_print_number (out, "CSAT", json_object_get (r, "avg_csat"), 1, " / 5");
    s_print_number (out, "reopen rate", json_object_get (r, "reopen_rate"), 100, " %");
    json_t *sla = json_object_get (r, "sla");
    s_print_number (out, "SLA on time", json_object_get (sla, "on_time_rate"), 100, " %");
    fprintf (out, "  %-14s response %lld, resolution %lld\n", "breaches",
             (long long) json_integer_value (json_object_get (sla, "response_breached")),
             (long long) json_integer_value (json_object_get (sla, "resolve_breached")));
    json_t *outbox = json_object_get (r, "outbox");
    fprintf (out, "  %-14s queued %lld, failed %lld, sent %lld, dead %lld\n", "outbox",
             (long long) json_integer_value (json_object_get (outbox, "queued")),
             (long long) json_integer_value (json_object_get (outbox, "failed")),
             (long long) json_integer_value (json_object_get (outbox, "sent")),
             (long long) json_integer_value (json_object_get (outbox, "dead")));
}

//  Prints a successful reply: plain text for the usual ones, JSON otherwise.
static void
s_print_reply (FILE *out, const tf_msg_t *reply, json_t *body, bool as_json)
{
    if (as_json) {
        json_t *shown = body;
        if (reply->type == TF_MSG_INFO)
            shown = json_object_get (body, "ticket");
        else
        if (reply->type == TF_MSG_REPORT)
            shown = json_object_get (body, "summary");
        s_print_json (out, shown);
        return;
    }
    switch (reply->type) {
        case TF_MSG_ACCEPTED:
            fprintf (out, "%s\n", s_str (body, "ticket_no"));
            break;
        case TF_MSG_INFO:
            s_print_ticket (out, json_object_get (body, "ticket"));
            break;
        case TF_MSG_UPDATED:
            fprintf (out, "%s %s\n", s_str (body, "ticket_no"), s_str (body, "status"));
            break;
        case TF_MSG_TOKEN_CREATED:
            if (json_object_get (body, "token"))
                fprintf (out, "%s\n", s_str (body, "token"));
            else
                fprintf (out, "%s: %lld token%s revoked\n", s_str (body, "name"),
                         (long long) json_integer_value (json_object_get (body, "revoked")),
                         json_integer_value (json_object_get (body, "revoked")) == 1? "": "s");
            break;
        case TF_MSG_FEEDBACK_RECORDED:
            fprintf (out, "%s feedback recorded (id %lld)\n", s_str (body, "ticket_no"),
                     (long long) json_integer_value (json_object_get (body, "feedback_id")));
            break;
        case TF_MSG_QUEUE_ITEMS: {
            size_t i;
            json_t *t;
            json_t *tickets = json_object_get (body, "tickets");
            fprintf (out, "%s: %zu tickets\n", s_str (body, "department"), json_array_size (tickets));
            json_array_foreach (tickets, i, t)
                fprintf (out, "  %-16s %-3s %-11s %-10s %-20s respond by %s  %s\n", s_str (t, "ticket_no"),
                         s_str (t, "priority"), s_str (t, "status"), s_str (t, "assignee"),
                         s_str (t, "subcategory"), s_str (t, "response_due_at"), s_str (t, "subject"));
            break;
        }
        case TF_MSG_REPORT:
            s_print_report (out, json_object_get (body, "summary"));
            break;
        case TF_MSG_DIGEST_SENT:
            fprintf (out, "digest of %s: %lld customer(s)\n", s_str (body, "day"),
                     (long long) json_integer_value (json_object_get (body, "customers")));
            break;
        case TF_MSG_FOLLOWUP_ITEMS: {
            size_t i;
            json_t *f;
            json_t *items = json_object_get (body, "followups");
            fprintf (out, "%zu follow-up task(s)\n", json_array_size (items));
            json_array_foreach (items, i, f) {
                fprintf (out, "  %-16s %-6s %-3s %-12s %-10s due %s", s_str (f, "ticket_no"), s_str (f, "kind"),
                         s_str (f, "priority"), s_str (f, "status"), s_str (f, "assignee"), s_str (f, "due_at"));
                if (json_is_integer (json_object_get (f, "csat")))
                    fprintf (out, "  csat %lld", (long long) json_integer_value (json_object_get (f, "csat")));
                fprintf (out, "\n");
            }
            break;
        }
        case TF_MSG_AGENT_ITEMS: {
            size_t i, k;
            json_t *a, *skill;
            json_array_foreach (json_object_get (body, "agents"), i, a) {
                fprintf (out, "  %-16s %-12s %-10s %-3s %2lld/%-3lld", s_str (a, "name"), s_str (a, "department"),
                         s_str (a, "role"), json_is_true (json_object_get (a, "on_duty"))? "on": "off",
                         (long long) json_integer_value (json_object_get (a, "load")),
                         (long long) json_integer_value (json_object_get (a, "capacity")));
                if (json_is_true (json_object_get (a, "duty_manager")))
                    fprintf (out, " on-duty manager");
                fprintf (out, " skills ");
                json_array_foreach (json_object_get (a, "skills"), k, skill)
                    fprintf (out, "%s%s", k? ",": "", json_string_value (skill));
                fprintf (out, "%s\n", json_array_size (json_object_get (a, "skills"))? "": "all");
            }
            break;
        }
        case TF_MSG_CLASSIFY_RESULT: {
            json_t *reasons = json_object_get (body, "reasons");
            if (json_is_true (json_object_get (body, "triage")))
                fprintf (out, "triage: no sub-category is sure enough; a person decides\n");
            else {
                fprintf (out, "%s / %s", s_str (body, "category"), s_str (body, "subcategory"));
                if (json_is_string (json_object_get (body, "third_level")))
                    fprintf (out, " / %s", s_str (body, "third_level"));
                fprintf (out, "\n");
            }
            fprintf (out, "  priority     %s\n", s_str (body, "priority"));
            fprintf (out, "  confidence   %.3f (%s)\n",
                     json_number_value (json_object_get (body, "confidence")), s_str (body, "method"));
            fprintf (out, "  sentiment    %+.3f\n", json_number_value (json_object_get (body, "sentiment")));
            fprintf (out, "  reasons      ");
            size_t i;
            json_t *item;
            json_array_foreach (reasons, i, item)
                fprintf (out, "%s%s", i? ", ": "", json_string_value (item)? json_string_value (item): "?");
            fprintf (out, "%s\n", json_array_size (reasons)? "": "-");
            fprintf (out, "  alternatives\n");
            json_array_foreach (json_object_get (body, "alternatives"), i, item)
                fprintf (out, "    %-20s %.3f\n", s_str (item, "subcategory"),
                         json_number_value (json_object_get (item, "confidence")));
            break;
        }
        case TF_MSG_PONG:
            fprintf (out, "%s %s pid %lld\n", s_str (body, "service"), s_str (body, "version"),
                     (long long) json_integer_value (json_object_get (body, "pid")));
            break;
        default:
            s_print_json (out, body);
            break;
    }
}

//  feed FILE: submits every object of a JSON array as a ticket.submit, with
//  the same checks a client's request meets. Prints one line per ticket.
static int
s_feed (const tf_config_t *cfg, const char *path, FILE *out, FILE *err)
{
    json_error_t jerr;
    json_t *list = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_array (list)) {
        fprintf (err, "error: %s: %s\n", path, list? "must hold a JSON array of tickets": jerr.text);
        json_decref (list);
        return 2;
    }
    int failed = 0;
    size_t i;
    json_t *item;
    json_array_foreach (list, i, item) {
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        tf_msg_t request, reply;
        tf_error_t error;
        zmsg_t *frames = NULL;
        reply.type = TF_MSG_NONE;
        if (tf_json_pack (&pk, item)
        ||  tf_codec_decode_body (TF_MSG_SUBMIT, (const uint8_t *) sbuf.data, sbuf.size, &request, &error)) {
            fprintf (err, "error: ticket %zu: %s\n", i + 1, error.message);
            failed++;
        }
        else
        if (tf_net_request (cfg->intake_endpoint, &request, cfg->request_timeout_ms, &frames, &reply, &error)
        ||  reply.type != TF_MSG_ACCEPTED) {
            const tf_value_t *why = &reply.v [TF_F_ERROR_MESSAGE];
            if (reply.type == TF_MSG_ERROR)
                fprintf (err, "error: ticket %zu: %.*s\n", i + 1, (int) why->len, why->str);
            else
                fprintf (err, "error: ticket %zu: %s\n", i + 1, error.message);
            failed++;
        }
        else
            fprintf (out, "%.*s  %s\n", (int) reply.v [TF_F_ACCEPTED_TICKET_NO].len,
                     reply.v [TF_F_ACCEPTED_TICKET_NO].str,
                     json_string_value (json_object_get (item, "subject"))
                     ? json_string_value (json_object_get (item, "subject")): "");
        zmsg_destroy (&frames);
        msgpack_sbuffer_destroy (&sbuf);
    }
    json_decref (list);
    return failed? 1: 0;
}

//  True when `classify ARGS` names a ticket: its first argument that is no
//  flag or flag value is CS + digits, or --subcategory is given
static bool
s_classifies_ticket (int nrest, char **rest)
{
    const char *first = NULL;
    for (int i = 1; i < nrest; i++) {
        const char *arg = rest [i];
        if (strncmp (arg, "--subcategory", 13) == 0 && (arg [13] == 0 || arg [13] == '='))
            return true;
        if (strncmp (arg, "--", 2) == 0) {
            if (!strchr (arg, '=') && !streq (arg, "--json"))
                i++;            //  its value
            continue;
        }
        if (!first)
            first = arg;
    }
    if (!first || strncmp (first, "CS", 2) != 0 || !first [2])
        return false;
    for (const char *c = first + 2; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    return true;
}

//  The certificate this run presents (--cert), for this thread only: a
//  test may run ticketctl as several people in one process.
static int
s_use_cert (const tf_config_t *cfg, zcert_t **cert_p, FILE *err)
{
    if (tf_security_client_start (cfg, NULL)) {
        fprintf (err, "error: --security is curve or off\n");
        return -1;
    }
    if (!tf_security_on ())
        return 0;
    *cert_p = tf_security_load_cert (cfg->cert);
    if (!*cert_p) {
        fprintf (err, "error: cannot read the certificate '%s' (--cert: a file from `ticketctl cert create`)\n",
                 cfg->cert);
        return -1;
    }
    tf_security_use (*cert_p);
    return 0;
}

//  cert init | create | revoke: the keys folder, nothing sent
static int
s_keys_command (const tf_config_t *cfg, const ticketctl_command_t *cmd, int nrest, char **rest,
                FILE *out, FILE *err)
{
    char dir [PATH_MAX];
    tf_keys_dir (cfg, dir, sizeof dir);
    const char *name = NULL, *role = NULL, *department = NULL, *channel = NULL, *out_path = NULL;
    const char *positional = NULL;
    for (int i = 1; i < nrest; i++) {
        const char **slot = streq (rest [i], "--name")? &name: streq (rest [i], "--role")? &role
                          : streq (rest [i], "--department")? &department
                          : streq (rest [i], "--channel")? &channel: streq (rest [i], "--out")? &out_path: NULL;
        bool flag_ok = false;
        for (const ticketctl_flag_t *f = cmd->flags; slot && f->flag; f++)
            flag_ok = flag_ok || streq (f->flag, rest [i]);
        if (flag_ok && i + 1 < nrest)
            *slot = rest [++i];
        else
        if (!positional && cmd->positional_name && strncmp (rest [i], "--", 2))
            positional = rest [i];
        else {
            fprintf (err, "error: %s does not take '%s' (ticketctl help)\n", cmd->name, rest [i]);
            return 2;
        }
    }
    if (streq (cmd->name, "cert init")) {
        int created = tf_keys_init (dir);
        if (created < 0) {
            fprintf (err, "error: cannot create the keys in %s\n", dir);
            return 1;
        }
        fprintf (out, "%s: %d certificate%s created\n", dir, created, created == 1? "": "s");
        return 0;
    }
    if (streq (cmd->name, "cert revoke")) {
        if (!positional) {
            fprintf (err, "error: cert revoke needs NAME\n");
            return 2;
        }
        if (tf_keys_revoke (dir, positional)) {
            fprintf (err, "error: '%s' is not on the allow-list of %s\n", positional, dir);
            return 1;
        }
        fprintf (out, "%s revoked: its key is refused from its next connection\n", positional);
        return 0;
    }
    if (!name || !role) {
        fprintf (err, "error: cert create needs --name and --role\n");
        return 2;
    }
    char path [PATH_MAX + 80], why [256];
    if (out_path)
        snprintf (path, sizeof path, "%s", out_path);
    else
        snprintf (path, sizeof path, "%s/%s.key_secret", dir, name);
    if (tf_role_lookup (role) == TF_ROLE_NONE) {
        fprintf (err, "error: --role is adapter, agent, lead or operator, not '%s'\n", role);
        return 2;
    }
    if (tf_keys_issue (dir, name, tf_role_lookup (role), department, channel, path, why, sizeof why)) {
        fprintf (err, "error: %s\n", why);
        return 1;
    }
    fprintf (out, "%s (%s%s%s%s%s) may connect: present %s with --cert (keep it secret)\n", name, role,
             department? ", department ": "", department? department: "", channel? ", channel ": "",
             channel? channel: "", path);
    return 0;
}

int
ticketctl_run (int argc, char **argv, FILE *out, FILE *err)
{
    //  before the settings are read: tf_config_load's own --help knows only them
    for (int i = 1; i < argc; i++)
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            s_usage (out);
            return 0;
        }
    tf_config_t cfg;
    char **rest = calloc ((size_t) argc + 1, sizeof (char *));
    int nrest = 0;
    int rc = tf_config_load (&cfg, s_settings, argc, argv, "ticketctl", "", &nrest, rest);
    if (rc) {
        free (rest);
        return rc > 0? 0: 2;
    }
    if (nrest == 0 || streq (rest [0], "help")) {
        s_usage (nrest? out: err);
        free (rest);
        return nrest? 0: 2;
    }
    //  "agent add", "followup done" and "queue --followups" are two words
    char compound [64];
    for (int i = 1; streq (rest [0], "queue") && i < nrest; i++)
        if (streq (rest [i], "--followups")) {
            memmove (rest + 2, rest + 1, (size_t) (i - 1) * sizeof *rest);
            rest [1] = "--followups";
            break;
        }
    if (nrest >= 2 && (streq (rest [0], "agent") || streq (rest [0], "followup") || streq (rest [0], "cert") || streq (rest [0], "token")
                   ||  (streq (rest [0], "queue") && streq (rest [1], "--followups")))) {
        snprintf (compound, sizeof compound, "%s %s", rest [0], rest [1]);
        rest [0] = compound;
        memmove (rest + 1, rest + 2, (size_t) (nrest - 2) * sizeof *rest);
        nrest--;
    }
    const ticketctl_command_t *cmd = NULL;
    for (size_t i = 0; i < s_command_count && !cmd; i++)
        if (streq (s_commands [i].name, rest [0]))
            cmd = &s_commands [i];
    if (cmd && streq (cmd->name, "feed")) {
        int code = 2;
        zcert_t *cert = NULL;
        if (nrest != 2)
            fprintf (err, "error: usage: ticketctl feed FILE.json\n");
        else
        if (s_use_cert (&cfg, &cert, err) == 0)
            code = s_feed (&cfg, rest [1], out, err);
        tf_security_use (NULL);
        zcert_destroy (&cert);
        free (rest);
        return code;
    }
    if (cmd && cmd->request == TF_MSG_NONE) {
        int code = s_keys_command (&cfg, cmd, nrest, rest, out, err);
        free (rest);
        return code;
    }
    //  classify has two forms: a ticket number (CS + digits) or --subcategory
    //  is a person's classification, anything else a text to classify
    if (cmd && cmd->request == TF_MSG_CLASSIFY_TICKET && !s_classifies_ticket (nrest, rest))
        cmd++;
    if (!cmd) {
        fprintf (err, "error: unknown command '%s' (ticketctl help lists them)\n", rest [0]);
        free (rest);
        return 2;
    }
    tf_msg_t request;
    tf_msg_init (&request, cmd->request);
    ticketctl_service_t service = cmd->service;
    bool as_json = false, have_positional = false;
    rc = 0;
    for (int i = 1; i < nrest && rc == 0; i++) {
        const char *arg = rest [i];
        if (streq (arg, "--json")) {
            as_json = true;
            continue;
        }
        if (strncmp (arg, "--", 2) == 0) {
            const char *eq = strchr (arg, '=');
            size_t len = eq? (size_t) (eq - arg): strlen (arg);
            const char *value = eq? eq + 1: (i + 1 < nrest? rest [++i]: NULL);
            if (!value) {
                fprintf (err, "error: %.*s needs a value\n", (int) len, arg);
                rc = 2;
                break;
            }
            const ticketctl_flag_t *flag = NULL;
            for (const ticketctl_flag_t *f = cmd->flags; f->flag; f++)
                if (strlen (f->flag) == len && strncmp (f->flag, arg, len) == 0)
                    flag = f;
            if (!flag) {
                fprintf (err, "error: %s does not take %.*s (ticketctl help)\n", cmd->name, (int) len, arg);
                rc = 2;
            }
            else
            if (flag->field == NOT_A_FIELD) {
                //  ping --service: where the request goes
                size_t k = 0;
                while (k < 6 && !streq (s_service_names [k], value))
                    k++;
                if (k == 6) {
                    fprintf (err, "error: unknown service '%s'\n", value);
                    rc = 2;
                }
                service = (ticketctl_service_t) k;
            }
            else
            if (s_set_field (&request, flag->field, value, flag->flag, err))
                rc = 2;
            continue;
        }
        if (cmd->positional != NO_POSITIONAL && !have_positional) {
            have_positional = true;
            if (s_set_field (&request, cmd->positional, arg, cmd->positional_name, err))
                rc = 2;
            continue;
        }
        fprintf (err, "error: unexpected argument '%s'\n", arg);
        rc = 2;
    }
    free (rest);
    if (rc == 0 && cmd->positional != NO_POSITIONAL && !have_positional) {
        fprintf (err, "error: %s needs %s\n", cmd->name, cmd->positional_name);
        rc = 2;
    }
    if (rc) {
        tf_msg_clear (&request);
        return rc;
    }
    zcert_t *cert = NULL;
    if (s_use_cert (&cfg, &cert, err)) {
        tf_msg_clear (&request);
        return 2;
    }
    zmsg_t *frames = NULL;
    tf_msg_t reply;
    tf_error_t error;
    const char *endpoint = ticketctl_endpoint (&cfg, service);
    rc = tf_net_request (endpoint, &request, cfg.request_timeout_ms, &frames, &reply, &error);
    tf_security_use (NULL);
    zcert_destroy (&cert);
    if (rc) {
        //  a request we could not even encode is a usage error
        bool local = streq (error.code, TF_ERR_MISSING_FIELD) || streq (error.code, TF_ERR_TOO_LONG)
                  || streq (error.code, TF_ERR_BAD_VALUE) || streq (error.code, TF_ERR_BAD_UTF8);
        fprintf (err, "error: %s: %s\n", error.code, error.message);
        tf_msg_clear (&request);
        zmsg_destroy (&frames);
        return local && !frames? 2: 3;
    }
    tf_msg_clear (&request);
    zframe_t *body = zmsg_last (frames);
    json_t *json = tf_json_from_body (zframe_data (body), zframe_size (body));
    if (reply.type == TF_MSG_ERROR) {
        if (as_json)
            s_print_json (out, json);
        fprintf (err, "error: %s: %s%s%s\n", s_str (json, "code"), s_str (json, "message"),
                 json_object_get (json, "field")? " — field ": "",
                 json_object_get (json, "field")? s_str (json, "field"): "");
        rc = 1;
    }
    else
        s_print_reply (out, &reply, json, as_json);
    json_decref (json);
    zmsg_destroy (&frames);
    return rc;
}
