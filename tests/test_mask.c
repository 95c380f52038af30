//  PII masking of free text.
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <criterion/parameterized.h>
#include <string.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (mask, .timeout = 30);

typedef struct {
    const char *in, *out;
} mask_case_t;

static const mask_case_t s_cases [] = {
    { "call me 13812345678 please", "call me 138****5678 please" },
    { "我的手机号13812345678，快点", "我的手机号138****5678，快点" },
    { "+86 13812345678", "+86138****5678" },
    { "tel 138-1234-5678", "tel 138****5678" },
    { "two: 13812345678 13912345678", "two: 138****5678 139****5678" },
    { "身份证110101199003071234", "身份证110***********1234" },
    { "id 11010119900307123X ok", "id 110***********123X ok" },
    { "卡号6222021234567890128", "卡号6222***********0128" },
    { "card 4111 1111 1111 1111 thanks", "card 4111********1111 thanks" },
    { "mail zhang.san@example.com now", "mail z***@example.com now" },
    //  a card label makes 16-19 digits a card even when its Luhn check fails
    { "银行卡6222021234567890123", "银行卡6222***********0123" },
    { "卡号6222021234567890123到账没", "卡号6222***********0123到账没" },
    { "卡号:6222021234567890123", "卡号:6222***********0123" },
    { "卡号：6222021234567890123", "卡号：6222***********0123" },
    { "我的银行卡号 6222021234567890123", "我的银行卡号 6222***********0123" },
    { "银行卡号是6222 0212 3456 7890 123", "银行卡号是6222***********0123" },
    { "card no. 1234567812345678", "card no. 1234********5678" },
    { "Card Number: 4111-1111-1111-1112", "Card Number: 4111********1112" },
    { "卡号62220212345678901", "卡号6222*********8901" },
    //  ... but not other lengths, and never an order number
    { "卡号123456789012345", "卡号123456789012345" },
    { "卡号12345678901234567890", "卡号12345678901234567890" },
    { "订单号6222021234567890123", "订单号6222021234567890123" },
    { "order no 1234567812345678", "order no 1234567812345678" },
    //  not personal: order numbers, short numbers, amounts, failed Luhn
    { "订单号2023102712345678没到", "订单号2023102712345678没到" },
    { "order no: 6222021234567890128", "order no: 6222021234567890128" },
    { "paid 199 yuan on 2023-10-27", "paid 199 yuan on 2023-10-27" },
    { "ref 1234567812345678", "ref 1234567812345678" },
    { "model SN2023ABC12345", "model SN2023ABC12345" },
    { "iPhone15 Pro, v2.3.1, 3.1415926", "iPhone15 Pro, v2.3.1, 3.1415926" },
    { "订单号：２０２３１０２７１２３４５６７８", "订单号：2023102712345678" },
    //  the bypasses: letters before, full-width digits, dots and brackets,
    //  an ID after its label whatever its date, a card after 卡号为
    { "tel13900000231", "tel139****0231" },
    { "model SN13812345678X", "model SN138****5678X" },
    { "电话１３９０００００２３１", "电话139****0231" },
    { "139.0000.0232", "139****0232" },
    { "(139)0000-0239", "(139****0239" },
    { "（139）0000－0239", "(139****0239" },
    { "ID110101199013071234", "ID110***********1234" },
    { "身份证号：110101199013071234", "身份证号：110***********1234" },
    { "银行卡号为6222021234567890123", "银行卡号为6222***********0123" },
    { "卡号是 6222 0212 3456 7890 123", "卡号是 6222***********0123" },
    { "12345678901", "12345678901" },
    { "", "" },
};

ParameterizedTestParameters (mask, cases)
{
    static int indices [sizeof s_cases / sizeof s_cases [0]];
    for (size_t i = 0; i < sizeof indices / sizeof indices [0]; i++)
        indices [i] = (int) i;
    return cr_make_param_array (int, indices, sizeof indices / sizeof indices [0]);
}

ParameterizedTest (int *index, mask, cases)
{
    const mask_case_t *c = &s_cases [*index];
    size_t len;
    char *out = tf_mask_text (c->in, strlen (c->in), &len);
    cr_assert_str_eq (out, c->out, "masking '%s'", c->in);
    cr_assert_eq (len, strlen (c->out));
    free (out);
}

Test (mask, counts_what_it_masked)
{
    const char *text = "13812345678 / 110101199003071234 / 6222021234567890128 / a.b@c.com";
    char *out = tf_mask_text (text, strlen (text), NULL);
    tf_mask_stats_t st = tf_mask_last_stats ();
    cr_assert_eq (st.phones, 1);
    cr_assert_eq (st.id_cards, 1);
    cr_assert_eq (st.bank_cards, 1);
    cr_assert_eq (st.emails, 1);
    cr_assert_null (strstr (out, "12345678"));
    free (out);
}

Test (mask, never_longer_and_no_overrun_on_hostile_text)
{
    //  long digit runs, separators everywhere, not NUL-terminated
    char text [4096];
    for (size_t i = 0; i < sizeof text; i++)
        text [i] = "13812345678 -+@.x\xe4"[i % 18];
    for (size_t len = 0; len < sizeof text; len += 97) {
        char *copy = malloc (len ? len: 1);
        memcpy (copy, text, len);
        size_t out_len;
        char *out = tf_mask_text (copy, len, &out_len);
        cr_assert_leq (out_len, len);
        cr_assert_eq (strlen (out), out_len);
        free (out);
        free (copy);
    }
    char digits [300];
    memset (digits, '7', sizeof digits);
    size_t out_len;
    char *out = tf_mask_text (digits, sizeof digits, &out_len);
    cr_assert_eq (out_len, sizeof digits);
    free (out);
}

Test (mask, log_lines_never_carry_a_personal_number)
{
    tf_test_stderr_begin ();
    tf_mask_text ("13812345678", 11, NULL);
    tf_warn ("request refused: bad_value: '%s' is not a channel", "电话13812345678 身份证110101199003071234");
    tf_error ("database: row (42, zhang.san@example.com, 6222021234567890128) failed");
    char *text = tf_test_stderr_end ();
    //  the caller's counts are those of its own masking, not the log's
    cr_assert_eq (tf_mask_last_stats ().phones, 1);
    cr_assert_eq (tf_mask_last_stats ().id_cards, 0);
    cr_assert (strstr (text, "138****5678") && strstr (text, "request refused"), "%s", text);
    cr_assert_null (strstr (text, "13812345678"), "%s", text);
    cr_assert_null (strstr (text, "110101199003071234"), "%s", text);
    cr_assert_null (strstr (text, "zhang.san@"), "%s", text);
    cr_assert_null (strstr (text, "6222021234567890128"), "%s", text);
    free (text);
}
