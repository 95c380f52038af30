/*  tf_mask — masks personal numbers in free text before it is stored or
    logged: mainland mobile numbers (138****5678, also +86 and grouped
    forms), 18-character ID-card numbers (110***********123X), bank-card
    numbers of 16-19 digits that pass the Luhn check or follow a card label
    (银行卡, 银行卡号, 卡号, 卡号是, 银行卡是, card no, card number;
    6222********1234) and e-mail addresses (z***@example.com). Long digit runs that are none of
    these (order numbers) are left as they are, and so are numbers that
    follow an order-number label (订单号, order no).
    Full-width digits and separators are read as ASCII first (the output
    carries them so), a number may follow letters (tel13900000231) and be
    grouped by spaces, dashes, dots or brackets ((139)0000-0239,
    139.0000.0232), and 18 characters after an ID label (身份证, ID) are
    an ID card whatever their date.
*/
#ifndef TF_MASK_H
#define TF_MASK_H

#include <stddef.h>

//  Masks text[0..len) into a new NUL-terminated string (never longer than
//  the input); *out_len gets its length. Returns NULL only on allocation
//  failure. The input need not be NUL-terminated.
char *tf_mask_text (const char *text, size_t len, size_t *out_len);

//  The same, without touching the counts tf_mask_last_stats reports: for
//  log lines, which are masked whatever they quote.
char *tf_mask_quiet (const char *text, size_t len, size_t *out_len);

//  Counts of what the last tf_mask_text call on this thread masked.
typedef struct { int phones, id_cards, bank_cards, emails; } tf_mask_stats_t;
tf_mask_stats_t tf_mask_last_stats (void);

#endif
