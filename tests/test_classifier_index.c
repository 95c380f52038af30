//  The mass-incident index on its own: a burst opens one incident and later
//  near-duplicates join it, unrelated tickets open none, a product groups
//  tickets of any sub-category, the window ends a group, two instances that
//  replay each other agree, and the memory it holds stays within its bounds
//  however many tickets pass.
#include "classifier_incident.h"
#include "classifier_index.h"
#include "csvread.h"
#include "tf_db.h"
#include <criterion/criterion.h>
#include <stdio.h>

TestSuite (classifier_index, .timeout = 60);

#define WINDOW (30 * 60)

//  One complaint reworded a little, as a burst of customers writes it
//  (within CLASSIFIER_SIMHASH_DISTANCE bits of each other)
static const char *BURST [] = {
    "台灯收到后开关按下去没反应 换了插座也不亮 订单号 20231101001 麻烦处理一下",
    "台灯收到后开关按下去没有反应 换了插座也不亮 订单号 20231101772 麻烦处理一下",
    "台灯收到后 开关按下去没反应，换了插座也不亮。订单号：202311013 麻烦处理一下",
    "台灯收到后开关按下去没反应！换了插座也不亮 订单 20231101554 麻烦处理一下",
    "台灯收到后开关按下去没反应 换了插座也不亮 订单号 20231101005 麻烦处理下",
    "台灯收到后开关按下去没反应 换了插座也不亮 订单号 20231101996 请处理一下",
};

static classifier_index_ticket_t
s_ticket (int64_t id, const char *sub, const char *product, const char *text, int64_t at)
{
    return (classifier_index_ticket_t) {
        .id = id, .subcategory = sub, .product = product,
        .signature = classifier_simhash (text, strlen (text)), .at = at
    };
}

Test (classifier_index, a_burst_opens_one_incident_and_later_ones_join)
{
    classifier_index_t *index = classifier_index_new (5, WINDOW, 64, 16);
    classifier_index_match_t m;
    int64_t now = 1800000000;
    for (int i = 0; i < 4; i++) {
        classifier_index_ticket_t t = s_ticket (i + 1, "商品配送异常", NULL, BURST [i], now + i);
        classifier_index_add (index, &t, &m);
        cr_assert_eq (m.verdict, CLASSIFIER_INDEX_NONE, "ticket %d", i + 1);
    }
    classifier_index_ticket_t t = s_ticket (5, "商品配送异常", NULL, BURST [4], now + 4);
    classifier_index_add (index, &t, &m);
    cr_assert_eq (m.verdict, CLASSIFIER_INDEX_OPEN);
    cr_assert_eq (m.nmembers, 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq (m.members [i], (int64_t) i + 1, "members oldest first, this one last");
    cr_assert_eq (m.first_signature, classifier_simhash (BURST [0], strlen (BURST [0])));
    classifier_index_opened (index, &m, 77);
    t = s_ticket (6, "商品配送异常", NULL, BURST [5], now + 60);
    classifier_index_add (index, &t, &m);
    cr_assert_eq (m.verdict, CLASSIFIER_INDEX_JOIN);
    cr_assert_eq (m.incident_id, 77);
    //  a provisional id becomes the real one
    classifier_index_rename (index, 77, 78);
    t = s_ticket (7, "商品配送异常", NULL, BURST [1], now + 61);
    classifier_index_add (index, &t, &m);
    cr_assert_eq (m.incident_id, 78);
    classifier_index_destroy (&index);
}

Test (classifier_index, unrelated_tickets_open_nothing)
{
    classifier_index_t *index = classifier_index_new (2, WINDOW, 4096, 64);
    classifier_index_match_t m;
    //  the training set's texts of each sub-category are all unlike each other
    char path [4200], err [256];
    snprintf (path, sizeof path, "%s/deploy/taxonomy/train.csv", tf_home ());
    csvread_pairs_t *rows = csvread_pairs_new ();
    cr_assert_gt (csvread_pairs_load (rows, path, CSVREAD_AUTO, "text", "subcategory", err, sizeof err), 0, "%s", err);
    size_t n = rows->count;
    for (size_t i = 0; i < n; i++) {
        classifier_index_ticket_t t = s_ticket ((int64_t) i + 1, rows->labels [i], NULL, rows->texts [i],
                                                1800000000 + (int64_t) i);
        classifier_index_add (index, &t, &m);
        cr_assert_eq (m.verdict, CLASSIFIER_INDEX_NONE, "row %zu grouped: %s", i, rows->texts [i]);
    }
    csvread_pairs_destroy (&rows);
    cr_assert_gt (n, 1000);
    classifier_index_destroy (&index);
}

Test (classifier_index, a_product_groups_any_sub_category_and_triage)
{
    classifier_index_t *index = classifier_index_new (3, WINDOW, 64, 16);
    classifier_index_match_t m;
    classifier_index_ticket_t a = s_ticket (1, "商品配送异常", "月饼礼盒A12", "盒子压坏了", 100);
    classifier_index_ticket_t b = s_ticket (2, "客户投诉", "月饼礼盒A12", "客服态度很差不给退", 101);
    classifier_index_ticket_t c = s_ticket (3, NULL, "月饼礼盒A12", "zzz", 102);
    classifier_index_add (index, &a, &m);
    cr_assert_eq (m.verdict, CLASSIFIER_INDEX_NONE);
    classifier_index_add (index, &b, &m);
    cr_assert_eq (m.verdict, CLASSIFIER_INDEX_NONE);
    classifier_index_add (index, &c, &m);
    cr_assert_eq (m.verdict, CLASSIFIER_INDEX_OPEN);
    cr_assert_eq (m.nmembers, 3);
    cr_assert_str_eq (m.product, "月饼礼盒A12");
    classifier_index_destroy (&index);
}

Test (classifier_index, the_window_ends_a_group)
{
    classifier_index_t *index = classifier_index_new (2, WINDOW, 64, 16);
    classifier_index_match_t m;
    classifier_index_ticket_t t = s_ticket (1, "商品配送异常", NULL, BURST [0], 1000);
    classifier_index_add (index, &t, &m);
    t = s_ticket (2, "商品配送异常", NULL, BURST [1], 1000 + WINDOW + 1);
    classifier_index_add (index, &t, &m);
    cr_assert_eq (m.verdict, CLASSIFIER_INDEX_NONE, "31 minutes apart is not a burst");
    t = s_ticket (3, "商品配送异常", NULL, BURST [2], 1000 + WINDOW + 2);
    classifier_index_add (index, &t, &m);
    cr_assert_eq (m.verdict, CLASSIFIER_INDEX_OPEN);
    cr_assert_eq (m.nmembers, 2);
    cr_assert_eq (m.members [0], 2);
    classifier_index_destroy (&index);
}

Test (classifier_index, two_instances_that_replay_each_other_open_one)
{
    //  a burst split between two instances, in the order they committed it
    classifier_index_t *a = classifier_index_new (5, WINDOW, 64, 16);
    classifier_index_t *b = classifier_index_new (5, WINDOW, 64, 16);
    classifier_index_match_t m;
    int opened = 0, joined = 0;
    int64_t incident = 0;
    for (int i = 0; i < 6; i++) {
        classifier_index_t *decides = i % 2? b: a;
        classifier_index_t *replays = i % 2? a: b;
        classifier_index_ticket_t t = s_ticket (i + 1, "商品配送异常", NULL, BURST [i], 2000 + i);
        classifier_index_add (decides, &t, &m);
        if (m.verdict == CLASSIFIER_INDEX_OPEN) {
            opened++;
            incident = 500;
            classifier_index_opened (decides, &m, incident);
            t.incident_id = incident;
        }
        else
        if (m.verdict == CLASSIFIER_INDEX_JOIN) {
            joined++;
            cr_assert_eq (m.incident_id, incident);
            t.incident_id = m.incident_id;
        }
        classifier_index_replay (replays, &t);
    }
    cr_assert_eq (opened, 1);
    cr_assert_eq (joined, 1);
    classifier_index_destroy (&a);
    classifier_index_destroy (&b);
}

Test (classifier_index, memory_stays_within_its_bounds)
{
    classifier_index_t *index = classifier_index_new (5, WINDOW, 100, 50);
    classifier_index_match_t m;
    char text [64];
    //  200,000 tickets over 5 sub-categories and 1,000 products
    for (int i = 0; i < 200000; i++) {
        snprintf (text, sizeof text, "ticket %d about thing %d", i, i * 7919);
        char sub [16], product [16];
        snprintf (sub, sizeof sub, "sub%d", i % 5);
        snprintf (product, sizeof product, "p%d", i % 1000);
        classifier_index_ticket_t t = s_ticket (i + 1, sub, i % 3? NULL: product, text, 3000 + i / 100);
        classifier_index_add (index, &t, &m);
        if (m.verdict == CLASSIFIER_INDEX_OPEN)
            classifier_index_opened (index, &m, i);
        cr_assert_leq (classifier_index_tickets (index), 5 * 100);
        cr_assert_leq (classifier_index_groups (index), 50);
    }
    classifier_index_clear (index);
    cr_assert_eq (classifier_index_tickets (index), 0);
    cr_assert_eq (classifier_index_groups (index), 0);
    classifier_index_destroy (&index);
}
