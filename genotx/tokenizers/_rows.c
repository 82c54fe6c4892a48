/* The rows `genotx tokenize` writes for char and k-mer tokenizers, in one pass.
 *
 * kmer_rows(ids, seqs, k, stride, as_ids, first_kmer_id, buffer=None) -> bytes | int | None
 *
 * For every read: "id \t n_bases \t n_tokens \t tokens \n", the tokens being
 * space-separated texts (or integer ids with as_ids). The rules are those of
 * genotx.tokenizers.fixed (char is k = stride = 1):
 *   - windows of k bases start at 0, stride, 2 stride, ... while they fit;
 *   - the bases after the last window (all of them when the read is shorter
 *     than k) are single-base tokens;
 *   - a window holding N is k single-base tokens when stride == k, else [UNK].
 * Token ids: specials 0-4 ([UNK] = 1), single bases A C G T N = 5-9, k-mer
 * windows first_kmer_id + their 2-bit value (A=0 C=1 G=2 T=3, first base highest).
 *
 * Returns None when a sequence holds anything but A C G T N; the caller then
 * takes the general path, which names the problem. tests/test_tokenizers_rows.py
 * compares every byte with that path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "normal_form.h"

#define UNK_ID 1
#define FIRST_BASE_ID 5

static signed char CODE[256]; /* A C G T N -> 0..4, anything else -> -1 */

/* Integer ids as text, built on the first call with as_ids: slot i holds "i " and, in
 * its last byte, that length. A token is then one 8-byte copy: the bytes after the
 * text are overwritten by the next token or lie in the slack of the buffer. */
#define MAX_ID (FIRST_BASE_ID + 5 + (1 << 16)) /* the largest vocabulary: k = 8 */
#define SLOT 8
static char (*ID_TEXT)[SLOT];

static int build_id_text(void)
{
    if (ID_TEXT != NULL)
        return 0;
    char (*table)[SLOT] = PyMem_RawCalloc(MAX_ID, SLOT);
    if (table == NULL)
        return -1;
    for (long i = 0; i < MAX_ID; i++) {
        int n = snprintf(table[i], SLOT, "%ld ", i);
        table[i][SLOT - 1] = (char)n;
    }
    ID_TEXT = table; /* never freed: the module keeps it for the life of the process */
    return 0;
}

static char *put_id(char *out, long id)
{
    memcpy(out, ID_TEXT[id], SLOT);
    return out + ID_TEXT[id][SLOT - 1];
}

static char *put_number(char *out, long value)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n)
        *out++ = digits[--n];
    return out;
}

/* A single-base token (code 0-4) and its separator. */
static char *put_base(char *out, const char *seq, Py_ssize_t at, int as_ids)
{
    if (as_ids)
        *out++ = (char)('0' + FIRST_BASE_ID + CODE[(unsigned char)seq[at]]); /* ids 5-9: one digit */
    else
        *out++ = seq[at];
    *out++ = ' ';
    return out;
}

/* Tokens of a read with no N as texts: windows copied straight from the bases. */
static char *put_plain_texts(char *out, const char *seq, Py_ssize_t len, int k, int stride, Py_ssize_t windows)
{
    if (k == 1) { /* char: every base and a space */
        for (Py_ssize_t i = 0; i < len; i++) {
            out[2 * i] = seq[i];
            out[2 * i + 1] = ' ';
        }
        return out + 2 * len;
    }
    Py_ssize_t w = 0;
    /* k <= 8: copy 8 bytes where 8 remain (the next window overwrites the extra ones) */
    for (; w < windows && w * stride + 8 <= len; w++) {
        memcpy(out, seq + w * stride, 8);
        out[k] = ' ';
        out += k + 1;
    }
    for (; w < windows; w++) {
        memcpy(out, seq + w * stride, k);
        out[k] = ' ';
        out += k + 1;
    }
    return out;
}

/* Single-base tokens of a whole read (k = 1: a window is one base, N included): each
 * base becomes its letter or its one-digit id (5-9), then a space. With SSE2, 16 bases
 * at a time: the digits by comparing with each letter, the spaces by interleaving. */
static char *put_bases(char *out, const char *seq, Py_ssize_t len, int as_ids)
{
    Py_ssize_t i = 0;
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(' ');
    for (; i + 16 <= len; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(seq + i));
        if (as_ids) {
            static const char letters[5] = {'A', 'C', 'G', 'T', 'N'};
            __m128i digits = _mm_setzero_si128();
            for (int c = 0; c < 5; c++)
                digits = _mm_or_si128(digits, _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(letters[c])),
                                                            _mm_set1_epi8((char)('0' + FIRST_BASE_ID + c))));
            x = digits;
        }
        _mm_storeu_si128((__m128i *)(out + 2 * i), _mm_unpacklo_epi8(x, space));
        _mm_storeu_si128((__m128i *)(out + 2 * i + 16), _mm_unpackhi_epi8(x, space));
    }
#endif
    for (; i < len; i++) {
        out[2 * i] = as_ids ? (char)('0' + FIRST_BASE_ID + CODE[(unsigned char)seq[i]]) : seq[i];
        out[2 * i + 1] = ' ';
    }
    return out + 2 * len;
}

/* The 2-bit code of A C G T by arithmetic on the letter, which beats a table lookup:
 * A 0x41 -> 0, C 0x43 -> 1, G 0x47 -> 2, T 0x54 -> 3 (not for N). */
#define ACGT_CODE(c) ((((unsigned)(unsigned char)(c) >> 1) ^ ((unsigned)(unsigned char)(c) >> 2)) & 3u)

/* The 2-bit value of the k <= 8 bases at p (no N; first base highest), from one 8-byte
 * load where 8 bytes remain: each byte's code by the arithmetic above, then the codes
 * of neighbouring bytes merged pairwise (2 + 2 bits, 4 + 4, 8 + 8). */
static unsigned window_value(const char *p, int k, int eight_remain)
{
    if (!eight_remain) {
        unsigned value = 0;
        for (int j = 0; j < k; j++)
            value = (value << 2) | ACGT_CODE(p[j]);
        return value;
    }
    uint64_t x;
    memcpy(&x, p, 8);
    x = ((x >> 1) ^ (x >> 2)) & 0x0303030303030303ull;
    x = __builtin_bswap64(x); /* the first base in the highest byte */
    x = (x | (x >> 6)) & 0x000F000F000F000Full;
    x = (x | (x >> 12)) & 0x000000FF000000FFull;
    x = (x | (x >> 24)) & 0xFFFFull;
    return (unsigned)x >> (2 * (8 - k));
}

/* Ids of the windows of a read with no N. With stride 1, one pass over the bases keeps
 * the value of the last k, each base from k - 1 on ending a window. */
static char *put_plain_ids(char *out, const char *seq, Py_ssize_t len, int k, int stride, long first_kmer_id,
                           Py_ssize_t windows)
{
    if (stride == 1) {
        unsigned mask = (1u << (2 * k)) - 1, value = 0;
        for (int i = 0; i < k - 1; i++)
            value = (value << 2) | ACGT_CODE(seq[i]);
        for (Py_ssize_t i = k - 1; i < len; i++) {
            value = ((value << 2) | ACGT_CODE(seq[i])) & mask;
            out = put_id(out, first_kmer_id + value);
        }
        return out;
    }
    for (Py_ssize_t w = 0; w < windows; w++) {
        Py_ssize_t at = w * stride;
        out = put_id(out, first_kmer_id + window_value(seq + at, k, at + 8 <= len));
    }
    return out;
}

/* The number of tokens of a read (see the rules above). */
static Py_ssize_t token_count(const char *seq, Py_ssize_t len, int k, int stride, int has_n)
{
    if (len < k)
        return len;
    Py_ssize_t windows = (len - k) / stride + 1, n = windows + len - ((windows - 1) * stride + k);
    if (has_n && stride == k && k > 1) /* each window holding N becomes k single bases */
        for (Py_ssize_t w = 0; w < windows; w++)
            if (memchr(seq + w * stride, 'N', k) != NULL)
                n += k - 1;
    return n;
}

/* The tokens of one read, each followed by a space. */
static char *put_tokens(char *out, const char *seq, Py_ssize_t len, int k, int stride, int as_ids,
                        long first_kmer_id, int has_n)
{
    Py_ssize_t end = 0;
    if (len >= k) {
        Py_ssize_t windows = (len - k) / stride + 1;
        end = (windows - 1) * stride + k;
        if (k == 1)
            return put_bases(out, seq, len, as_ids);
        if (!has_n) {
            out = as_ids ? put_plain_ids(out, seq, len, k, stride, first_kmer_id, windows)
                         : put_plain_texts(out, seq, len, k, stride, windows);
            windows = 0;
        }
        for (Py_ssize_t w = 0; w < windows; w++) {
            Py_ssize_t at = w * stride;
            long value = 0;
            int window_n = 0;
            for (int j = 0; j < k; j++) {
                int c = CODE[(unsigned char)seq[at + j]];
                window_n |= (c == 4);
                value = (value << 2) | (c & 3);
            }
            if (window_n && stride == k) {
                for (int j = 0; j < k; j++)
                    out = put_base(out, seq, at + j, as_ids);
            } else if (as_ids) {
                out = put_id(out, window_n ? UNK_ID : first_kmer_id + value);
            } else {
                int n = window_n ? 5 : k;
                memcpy(out, window_n ? "[UNK]" : seq + at, n);
                out += n;
                *out++ = ' ';
            }
        }
    }
    for (Py_ssize_t at = end; at < len; at++)
        out = put_base(out, seq, at, as_ids);
    return out;
}

#define PREFETCH 8 /* reads ahead */

typedef struct {
    const char *seq, *id;
    Py_ssize_t len, id_len;
} Read;

/* Rows of all reads into out; returns the end, or NULL when a sequence is not in normal form. */
static char *put_rows(char *out, const Read *reads, Py_ssize_t n, int k, int stride, int as_ids, long first_kmer_id)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        const Read *r = reads + i;
        if (i + PREFETCH < n) /* the bases of a read a few ahead: parsed on another core, not in this one's cache */
            for (Py_ssize_t at = 0; at < reads[i + PREFETCH].len; at += 64)
                __builtin_prefetch(reads[i + PREFETCH].seq + at);
        if (!in_normal_form((const unsigned char *)r->seq, r->len))
            return NULL;
        int has_n = memchr(r->seq, 'N', r->len) != NULL;
        memcpy(out, r->id, r->id_len);
        out += r->id_len;
        *out++ = '\t';
        out = put_number(out, (long)r->len);
        *out++ = '\t';
        Py_ssize_t count = token_count(r->seq, r->len, k, stride, has_n);
        out = put_number(out, (long)count);
        *out++ = '\t';
        out = put_tokens(out, r->seq, r->len, k, stride, as_ids, first_kmer_id, has_n);
        if (count > 0)
            out--; /* the space after the last token */
        *out++ = '\n';
    }
    return out;
}

static PyObject *kmer_rows(PyObject *self, PyObject *args)
{
    PyObject *ids, *seqs, *buffer = Py_None;
    int k, stride, as_ids;
    long first_kmer_id;
    if (!PyArg_ParseTuple(args, "O!O!iipl|O", &PyList_Type, &ids, &PyList_Type, &seqs, &k, &stride, &as_ids,
                          &first_kmer_id, &buffer))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(seqs);
    if (PyList_GET_SIZE(ids) != n || k < 1 || k > 8 || stride < 1 || stride > k ||
        (buffer != Py_None && !PyByteArray_Check(buffer))) {
        PyErr_SetString(PyExc_ValueError,
                        "kmer_rows: ids and seqs differ in length, k/stride out of range, or buffer not a bytearray");
        return NULL;
    }
    if (as_ids && build_id_text() < 0)
        return PyErr_NoMemory();
    Read *reads = PyMem_Malloc((n ? n : 1) * sizeof(Read));
    if (reads == NULL)
        return PyErr_NoMemory();
    /* Bound of the text: per base at most one window of k single tokens "X " or a
     * 6-character id and its space, plus the id, two numbers and separators per read;
     * SLOT more for the 8-byte copy of an id. */
    Py_ssize_t bound = SLOT, per_base = (2 * k > 7 ? 2 * k : 7);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *seq = PyList_GET_ITEM(seqs, i), *rid = PyList_GET_ITEM(ids, i);
        if (i + PREFETCH < n) {
            __builtin_prefetch(PyList_GET_ITEM(seqs, i + PREFETCH));
            __builtin_prefetch(PyList_GET_ITEM(ids, i + PREFETCH));
        }
        if (!PyUnicode_Check(seq) || !PyUnicode_IS_ASCII(seq) || !PyUnicode_Check(rid) || !PyUnicode_IS_ASCII(rid)) {
            PyMem_Free(reads);
            Py_RETURN_NONE;
        }
        reads[i] = (Read){(const char *)PyUnicode_1BYTE_DATA(seq), (const char *)PyUnicode_1BYTE_DATA(rid),
                          PyUnicode_GET_LENGTH(seq), PyUnicode_GET_LENGTH(rid)};
        bound += (reads[i].len + 1) * per_base + reads[i].id_len + 48 + 8;
    }
    /* The rows go into a new bytes object, or into the caller's bytearray, which only
     * grows: reused batch after batch, its memory is not faulted in afresh each time. */
    PyObject *block = NULL;
    if (buffer == Py_None)
        block = PyBytes_FromStringAndSize(NULL, bound);
    else if (PyByteArray_GET_SIZE(buffer) >= bound || PyByteArray_Resize(buffer, bound) == 0)
        block = Py_NewRef(buffer);
    if (block == NULL) {
        PyMem_Free(reads);
        return NULL;
    }
    char *start = buffer == Py_None ? PyBytes_AS_STRING(block) : PyByteArray_AS_STRING(block), *end;
    /* The lists are the caller's and stay alive; the text is written without the GIL, so
     * a reading thread can parse the next batch meanwhile. */
    Py_BEGIN_ALLOW_THREADS
    end = put_rows(start, reads, n, k, stride, as_ids, first_kmer_id);
    Py_END_ALLOW_THREADS
    PyMem_Free(reads);
    if (end == NULL) {
        Py_DECREF(block);
        Py_RETURN_NONE;
    }
    if (buffer != Py_None) {
        Py_DECREF(block);
        return PyLong_FromSsize_t(end - start);
    }
    if (_PyBytes_Resize(&block, end - start) < 0)
        return NULL;
    return block;
}

static PyMethodDef methods[] = {
    {"kmer_rows", kmer_rows, METH_VARARGS,
     "kmer_rows(ids, seqs, k, stride, as_ids, first_kmer_id, buffer=None) -> TSV rows of a batch as bytes "
     "(with a bytearray buffer: written at its start, which grows as needed, and their length), or None "
     "when a sequence holds anything but A C G T N."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rows", "Fast rows of genotx tokenize.", -1, methods};

PyMODINIT_FUNC PyInit__rows(void)
{
    memset(CODE, -1, sizeof CODE);
    CODE['A'] = 0;
    CODE['C'] = 1;
    CODE['G'] = 2;
    CODE['T'] = 3;
    CODE['N'] = 4;
    return PyModule_Create(&module);
}
