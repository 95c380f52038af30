/*  tf_private — personal data kept private: the key that seals contact
    details (pgcrypto, in the database) and keys the hashes of identifiers,
    read from a file outside the database (KEYS_DIR/private.key, made by
    tf_keys_init); the database never holds it.

    Identifiers that may name a person (customer.id, order_no, external_id)
    are stored as they come when they hold nothing personal, else (a phone,
    an ID-card number or an e-mail in them, as tf_mask finds them) as a
    keyed hash: "h:" and 32 hex digits of HMAC-SHA256(key, value). The same
    value always gives the same hash, so threads, duplicates and a
    customer's history still match, but the number itself is not stored.
*/
#ifndef TF_PRIVATE_H
#define TF_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

//  Reads (or, the first time, creates) KEYS_DIR/private.key. Process-wide;
//  0, or -1 (logged) when the file cannot be read or made.
int tf_private_init (const char *keys_dir);

//  n characters drawn from `alphabet` by the kernel's random source, then
//  a NUL (out: n + 1 bytes): keys, tokens, passwords. 0, or -1 when there
//  is no randomness.
int tf_private_random (char *out, size_t n, const char *alphabet);

//  The first `bytes` bytes (at most 32) of HMAC-SHA256(key, data) as hex,
//  NUL-terminated (out: 2 * bytes + 1). 0, or -1 on failure.
int tf_private_hmac_hex (const void *key, size_t key_len, const void *data, size_t len, size_t bytes,
                         char *out);

//  The key as text, for pgp_sym_encrypt / pgp_sym_decrypt parameters.
//  NULL before tf_private_init.
const char *tf_private_key (void);

//  The identifier as stored: a copy of it when tf_mask finds no phone, ID
//  card or e-mail in it, else its keyed hash. The caller frees. (It
//  replaces what tf_mask_last_stats reports.)
char *tf_private_id (const char *value, size_t len);

//  A ticket's public reference: its number, '-' and 24 hex digits of
//  HMAC-SHA256(key, number), so it cannot be made from the number alone.
//  out needs 64 bytes.
void tf_private_ref (const char *ticket_no, char *out, size_t size);
//  The ticket number of a reference when it is exactly one tf_private_ref
//  makes (ticket_no: 32 bytes), else false.
bool tf_private_ref_check (const char *ref, char *ticket_no, size_t size);

//  True when the identifier is stored as a hash.
bool tf_private_is_hash (const char *stored);

#endif
