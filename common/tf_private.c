#include "tf_private.h"
#include "tf_log.h"
#include "tf_mask.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY_HEX 64

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_key [KEY_HEX + 1];

static int
s_read_key (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char text [KEY_HEX + 2] = "";
    bool ok = fgets (text, sizeof text, file) && strspn (text, "0123456789abcdef") == KEY_HEX;
    fclose (file);
    if (ok)
        memcpy (s_key, text, KEY_HEX);
    return ok? 0: -1;
}

int
tf_private_random (char *out, size_t n, const char *alphabet)
{
    unsigned char bytes [256];
    size_t size = strlen (alphabet);
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && n <= sizeof bytes && read (fd, bytes, n) == (ssize_t) n;
    if (fd >= 0)
        close (fd);
    if (!ok)
        return -1;
    for (size_t i = 0; i < n; i++)
        out [i] = alphabet [bytes [i] % size];
    out [n] = 0;
    return 0;
}

int
tf_private_hmac_hex (const void *key, size_t key_len, const void *data, size_t len, size_t bytes, char *out)
{
    unsigned char mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC (EVP_sha256 (), key, (int) key_len, data, len, mac, &mac_len) || bytes > mac_len)
        return -1;
    for (size_t i = 0; i < bytes; i++)
        snprintf (out + 2 * i, 3, "%02x", mac [i]);
    return 0;
}

//  256 random bits as hex, written so that the first writer wins
static int
s_make_key (const char *path)
{
    char text [KEY_HEX + 2];
    if (tf_private_random (text, KEY_HEX, "0123456789abcdef"))
        return -1;
    text [KEY_HEX] = '\n';
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST? 0: -1;
    bool ok = write (fd, text, KEY_HEX + 1) == KEY_HEX + 1;
    close (fd);
    return ok? 0: -1;
}

int
tf_private_init (const char *keys_dir)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/private.key", keys_dir);
    pthread_mutex_lock (&s_lock);
    int rc = s_read_key (path);
    if (rc && s_make_key (path) == 0)
        rc = s_read_key (path);
    pthread_mutex_unlock (&s_lock);
    if (rc)
        tf_error ("cannot read or make the private-data key %s", path);
    return rc;
}

const char *
tf_private_key (void)
{
    return *s_key? s_key: NULL;
}

//  hex of the first n bytes of HMAC-SHA256(the private key, prefix + text)
static void
s_mac_hex (const char *prefix, const char *text, size_t len, size_t n, char *out)
{
    size_t plen = strlen (prefix);
    unsigned char *input = malloc (plen + len + 1);
    memcpy (input, prefix, plen);
    memcpy (input + plen, text, len);
    tf_private_hmac_hex (s_key, KEY_HEX, input, plen + len, n, out);
    free (input);
}

void
tf_private_ref (const char *ticket_no, char *out, size_t size)
{
    char mac [2 * 12 + 1];
    s_mac_hex ("ref:", ticket_no, strlen (ticket_no), 12, mac);
    snprintf (out, size, "%s-%s", ticket_no, mac);
}

bool
tf_private_ref_check (const char *ref, char *ticket_no, size_t size)
{
    const char *dash = strrchr (ref, '-');
    if (!*s_key || !dash || dash == ref || (size_t) (dash - ref) >= size || strlen (dash + 1) != 24)
        return false;
    snprintf (ticket_no, size, "%.*s", (int) (dash - ref), ref);
    char mac [2 * 12 + 1];
    s_mac_hex ("ref:", ticket_no, strlen (ticket_no), 12, mac);
    //  compared in constant time: a wrong guess says nothing of how close it was
    unsigned char differ = 0;
    for (int i = 0; i < 24; i++)
        differ |= (unsigned char) (mac [i] ^ dash [1 + i]);
    return differ == 0;
}

bool
tf_private_is_hash (const char *stored)
{
    return stored && strncmp (stored, "h:", 2) == 0;
}

char *
tf_private_id (const char *value, size_t len)
{
    //  a phone, an ID card or an e-mail: a person. Not a bare card-like
    //  number: order and message numbers are long digit runs, and one in
    //  ten passes the Luhn check by chance
    free (tf_mask_text (value, len, NULL));
    tf_mask_stats_t found = tf_mask_last_stats ();
    bool personal = found.phones + found.id_cards + found.emails > 0;
    if (!personal || !*s_key) {
        char *copy = malloc (len + 1);
        memcpy (copy, value, len);
        copy [len] = 0;
        return copy;
    }
    char *hashed = malloc (2 + 32 + 1);
    memcpy (hashed, "h:", 2);
    s_mac_hex ("", value, len, 16, hashed + 2);
    return hashed;
}
