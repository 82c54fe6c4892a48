/* Single-pass parser for well-formed four-line FASTQ: the fast path of genotx.io.fastq.
 *
 * parse(rest: bytes, piece: bytes) -> (ids, seqs, quals, used) | None
 *
 * Parses the complete records of rest + piece (rest: the unconsumed tail of the
 * previous piece) and returns their ids (the header up to the first space or
 * tab), normalised sequences (upper case, U -> T, IUPAC ambiguity codes -> N)
 * and qualities as lists of str, plus the bytes of piece consumed. An
 * incomplete record at the end is left unconsumed.
 *
 * It accepts only what the strict Python parser accepts without comment, and
 * returns None at the first thing it does not: a header without '@', an empty
 * id, a control character, a non-ASCII id, a description that is not UTF-8, a
 * third line without '+', an empty
 * sequence, a base outside the alphabet, a quality outside '!'..'~', a length
 * mismatch, a carriage return or a blank line. The caller then hands the same
 * bytes to the Python parser, which names the record and what is wrong (or
 * handles CRLF and trailing blank lines), so both paths give the same output
 * and the same errors.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "normal_form.h"

static unsigned char NORM[256];   /* base -> normal form, 0 = invalid */
static unsigned char HEADER[256]; /* 1 = allowed in a header or '+' line: printable ASCII and tab */

static void init_tables(void)
{
    const char *bases = "ACGTN", *iupac = "RYSWKMBDHV";
    memset(NORM, 0, sizeof NORM);
    for (const char *c = bases; *c; c++) {
        NORM[(unsigned char)*c] = (unsigned char)*c;
        NORM[(unsigned char)*c + 32] = (unsigned char)*c;
    }
    for (const char *c = iupac; *c; c++) {
        NORM[(unsigned char)*c] = 'N';
        NORM[(unsigned char)*c + 32] = 'N';
    }
    NORM['U'] = NORM['u'] = 'T';
    memset(HEADER, 0, sizeof HEADER);
    for (int c = 32; c < 127; c++)
        HEADER[c] = 1;
    HEADER['\t'] = 1;
}

/* Loops below are written branch-free so that the compiler vectorises them. */
static int header_ok(const unsigned char *p, Py_ssize_t n)
{
    unsigned char ok = 1;
    for (Py_ssize_t i = 0; i < n; i++)
        ok &= (unsigned char)(((unsigned char)(p[i] - 32) < 95) | (p[i] == '\t'));
    return ok;
}

/* A header or '+' line with bytes beyond ASCII: UTF-8 (as Python's strict decoder takes it:
 * no overlong forms, no surrogates, nothing past U+10FFFF) without control characters.
 * Whether the id is ASCII is checked where the id is cut out. */
static int utf8_text_ok(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if ((c < 32 && c != '\t') || c == 127)
                return 0;
            i++;
            continue;
        }
        int len;
        unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (int k = 2; k < len; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF)
                return 0;
        i += len;
    }
    return 1;
}

static int line_ok(const unsigned char *p, Py_ssize_t n)
{
    return header_ok(p, n) || utf8_text_ok(p, n);
}

/* A new str of the n bases at p in normal form; *bad is set when one is not a base. */
static PyObject *sequence_str(const unsigned char *p, Py_ssize_t n, int *bad)
{
    PyObject *s = PyUnicode_New(n, 127);
    if (s == NULL)
        return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(s);
    if (in_normal_form(p, n)) { /* the common case: already in normal form */
        memcpy(out, p, n);
        return s;
    }
    unsigned char all = 0xff;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = NORM[p[i]];
        all &= (unsigned char)(c ? 0xff : 0);
        out[i] = c ? c : 'N';
    }
    *bad = (all == 0);
    return s;
}

/* A new str of the n printable ASCII characters at p; *bad is set when one is outside lo..hi. */
static int ascii_ok(const unsigned char *p, Py_ssize_t n, unsigned char lo, unsigned char hi)
{
    unsigned char ok = 1;
    for (Py_ssize_t i = 0; i < n; i++)
        ok &= (unsigned char)((unsigned char)(p[i] - lo) <= (unsigned char)(hi - lo));
    return ok;
}

static PyObject *ascii_str(const unsigned char *p, Py_ssize_t n, unsigned char lo, unsigned char hi, int *bad)
{
    if (!ascii_ok(p, n, lo, hi)) {
        *bad = 1;
        return PyUnicode_New(0, 127);
    }
    PyObject *s = PyUnicode_New(n, 127);
    if (s != NULL)
        memcpy(PyUnicode_1BYTE_DATA(s), p, n);
    return s;
}

static int append_new(PyObject *list, PyObject *item)
{
    if (item == NULL)
        return -1;
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* Parse the complete records at the start of p[0..n) into the lists. Returns the bytes
 * consumed, REFUSE at the first record the strict parser must judge, or FAILED with a
 * Python exception set. */
#define REFUSE (-1)
#define FAILED (-2)

static Py_ssize_t parse_records(const unsigned char *p, Py_ssize_t n, PyObject *ids, PyObject *seqs, PyObject *quals)
{
    Py_ssize_t pos = 0;
    const unsigned char *end = p + n;
    while (pos < n) {
        const unsigned char *h = p + pos;
        const unsigned char *e1 = memchr(h, '\n', end - h);
        if (e1 == NULL) break;
        const unsigned char *s = e1 + 1, *e2 = memchr(s, '\n', end - s);
        if (e2 == NULL) break;
        const unsigned char *pl = e2 + 1, *e3 = memchr(pl, '\n', end - pl);
        if (e3 == NULL) break;
        const unsigned char *q = e3 + 1, *e4 = memchr(q, '\n', end - q);
        if (e4 == NULL) break;
        Py_ssize_t seq_len = e2 - s, qual_len = e4 - q;
        if (h[0] != '@' || pl[0] != '+' || seq_len == 0 || seq_len != qual_len)
            return REFUSE;
        if (!line_ok(h + 1, e1 - h - 1) || !line_ok(pl + 1, e3 - pl - 1))
            return REFUSE;
        const unsigned char *id_end = h + 1;
        while (id_end < e1 && *id_end != ' ' && *id_end != '\t')
            id_end++;
        if (id_end == h + 1)
            return REFUSE;
        int bad = 0;
        if (append_new(ids, ascii_str(h + 1, id_end - h - 1, 33, 126, &bad)) < 0 ||
            append_new(seqs, sequence_str(s, seq_len, &bad)) < 0)
            return FAILED;
        if (quals != NULL) {
            if (append_new(quals, ascii_str(q, qual_len, 33, 126, &bad)) < 0)
                return FAILED;
        } else if (!ascii_ok(q, qual_len, 33, 126)) { /* checked all the same, not kept */
            bad = 1;
        }
        if (bad)
            return REFUSE;
        pos = (e4 + 1) - p;
    }
    return pos;
}

/* Offset just past the k-th newline of p[0..n), or -1. */
static Py_ssize_t after_newlines(const unsigned char *p, Py_ssize_t n, int k)
{
    Py_ssize_t pos = 0;
    for (; k > 0; k--) {
        const unsigned char *e = memchr(p + pos, '\n', n - pos);
        if (e == NULL)
            return -1;
        pos = (e - p) + 1;
    }
    return pos;
}

/* The record split between `rest` (the unconsumed tail of the last piece, under four
 * lines) and the start of `piece`: parsed from a small joined copy, so the piece itself
 * is never copied. Returns the bytes of piece it used, -1 if piece does not finish it. */
static Py_ssize_t parse_split_record(Py_buffer *rest, Py_buffer *piece, PyObject *ids, PyObject *seqs,
                                     PyObject *quals, int *status)
{
    const unsigned char *r = rest->buf, *p = piece->buf;
    int lines = 0;
    for (Py_ssize_t i = 0; i < rest->len; i++)
        lines += r[i] == '\n';
    if (lines >= 4) {
        *status = REFUSE;
        return 0;
    }
    Py_ssize_t cut = after_newlines(p, piece->len, 4 - lines);
    if (cut < 0)
        return -1;
    unsigned char *joined = PyMem_Malloc(rest->len + cut);
    if (joined == NULL) {
        PyErr_NoMemory();
        *status = FAILED;
        return 0;
    }
    memcpy(joined, r, rest->len);
    memcpy(joined + rest->len, p, cut);
    Py_ssize_t used = parse_records(joined, rest->len + cut, ids, seqs, quals);
    PyMem_Free(joined);
    if (used < 0)
        *status = (int)used;
    else if (used != rest->len + cut)
        *status = REFUSE;
    return cut;
}

static PyObject *parse(PyObject *self, PyObject *args)
{
    Py_buffer rest, piece;
    int keep_quals = 1;
    if (!PyArg_ParseTuple(args, "y*y*|p", &rest, &piece, &keep_quals))
        return NULL;
    PyObject *ids = PyList_New(0), *seqs = PyList_New(0), *quals = keep_quals ? PyList_New(0) : NULL;
    PyObject *result = NULL;
    if (ids == NULL || seqs == NULL || (keep_quals && quals == NULL))
        goto done;
    int status = 0;
    Py_ssize_t start = 0, used = 0;
    if (rest.len > 0) {
        start = parse_split_record(&rest, &piece, ids, seqs, quals, &status);
        if (status == FAILED)
            goto done;
        if (status == REFUSE)
            goto refuse;
        if (start < 0) { /* the piece ends inside the same record */
            result = Py_BuildValue("(OOOn)", ids, seqs, quals ? quals : Py_None, (Py_ssize_t)-1);
            goto done;
        }
    }
    used = parse_records((const unsigned char *)piece.buf + start, piece.len - start, ids, seqs, quals);
    if (used == FAILED)
        goto done;
    if (used == REFUSE)
        goto refuse;
    result = Py_BuildValue("(OOOn)", ids, seqs, quals ? quals : Py_None, start + used);
    goto done;
refuse:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(ids);
    Py_XDECREF(seqs);
    Py_XDECREF(quals);
    PyBuffer_Release(&rest);
    PyBuffer_Release(&piece);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_VARARGS,
     "parse(rest, piece, keep_quals=True) -> (ids, seqs, quals, used) for the complete well-formed FASTQ "
     "records of "
     "rest + piece (rest: under four lines left from the last piece); used = bytes of piece consumed, "
     "-1 when piece does not finish the record begun in rest; None at the first record the strict "
     "parser must judge. keep_quals=False checks the qualities but returns None for them."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastq", "Fast path of genotx.io.fastq.", -1, methods};

PyMODINIT_FUNC PyInit__fastq(void)
{
    init_tables();
    return PyModule_Create(&module);
}
