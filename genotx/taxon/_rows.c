/* The TSV lines of `predict --task taxon`, formatted in C with the GIL released.
 *
 * taxon_text(ids, probs, first, second, none, names, taxids, min_prob, unclassified) -> str | None
 *
 *   ids           list of str: read ids (one byte a character; tabs and line breaks become spaces)
 *   probs         float32 or float64 buffer (len(ids), classes): species probabilities
 *   first, second int64 buffers (len(ids)): the best and the runner-up species of each read
 *   none          float64 buffer (len(ids)): prob_none, or None to write NA
 *   names, taxids list of str (classes): the species' fields as written
 *   min_prob      below it a read is `unclassified` (taxid 0, the best guess as runner-up)
 *
 * Each line is exactly what genotx.taxon.classifier.taxon_lines writes in Python, which
 * stays the reference: numbers are printf's "%.6g" of the double, which is Python's
 * format(x, ".6g") (both round the exact binary value correctly, ties to even, and write
 * at least two exponent digits), printed in the C locale whatever the process's locale.
 * Returns None for what it does not handle (a str of wider characters, an index out of
 * range), and the caller formats that batch in Python.
 *
 * Why C: formatting rows in Python held the GIL for about 2.3 us a read, a third of
 * predict's work, so a second thread could not overlap it with anything; here the GIL is
 * held only to collect pointers and to make the result str.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NUMBER_MAX 32 /* "%.6g" of a double: at most 13 characters ("-1.23457e-308") */

typedef struct {
    const char *text;
    Py_ssize_t len;
} Field;

static locale_t c_locale;

static char *put(char *at, Field f)
{
    memcpy(at, f.text, f.len);
    return at + f.len;
}

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* x * 10**k: powers of ten up to 1e22 are exact doubles, so each step rounds once. */
static double times_pow10(double x, int k)
{
    for (; k > 22; k -= 22)
        x *= 1e22;
    for (; k < -22; k += 22)
        x /= 1e22;
    return k >= 0 ? x * POW10[k] : x / POW10[-k];
}

/* "%.6g" of x, as printf and Python write it. printf's own conversion of a double costs
 * about 0.5 us, most of the formatting time; here the six digits come from one scaling
 * of x, whose error (at most some 15 roundings, under 1e-8 in units of the last digit)
 * decides the rounding unless the scaled value lies within 1e-6 of a half, where printf
 * (exact, ties to even) takes over, as it does for inf and extreme magnitudes. */
static char *put_number(char *at, double x)
{
    double size = fabs(x);
    if (isnan(x)) { /* printf may write "-nan" */
        memcpy(at, "nan", 3);
        return at + 3;
    }
    if (x == 0) { /* common: a runner-up whose probability underflowed */
        if (signbit(x))
            *at++ = '-';
        *at++ = '0';
        return at;
    }
    if (!(size >= 1e-300 && size < 1e15))
        return at + snprintf(at, NUMBER_MAX, "%.6g", x);
    int e = (int)floor(log10(size));
    double m = times_pow10(size, 5 - e);
    if (m < 1e5)
        m = times_pow10(size, 5 - --e);
    else if (m >= 1e6)
        m = times_pow10(size, 5 - ++e);
    double whole = floor(m), rest = m - whole;
    if (fabs(rest - 0.5) < 1e-6)
        return at + snprintf(at, NUMBER_MAX, "%.6g", x);
    long digits = (long)whole + (rest > 0.5);
    if (digits >= 1000000)
        digits /= 10, e++;
    char d[6];
    for (int i = 5; i >= 0; i--, digits /= 10)
        d[i] = (char)('0' + digits % 10);
    int used = 6;
    while (used > 1 && d[used - 1] == '0')
        used--;
    if (x < 0)
        *at++ = '-';
    if (e < -4 || e >= 6) { /* d.ddddde±XX */
        *at++ = d[0];
        if (used > 1) {
            *at++ = '.';
            memcpy(at, d + 1, used - 1);
            at += used - 1;
        }
        int size_e = e < 0 ? -e : e;
        *at++ = 'e';
        *at++ = e < 0 ? '-' : '+';
        if (size_e >= 100)
            *at++ = (char)('0' + size_e / 100);
        *at++ = (char)('0' + size_e / 10 % 10);
        *at++ = (char)('0' + size_e % 10);
    } else if (e < 0) { /* 0.000ddd */
        *at++ = '0';
        *at++ = '.';
        for (int i = -1; i > e; i--)
            *at++ = '0';
        memcpy(at, d, used);
        at += used;
    } else { /* ddd.ddd: the integer part has e + 1 digits */
        for (int i = 0; i <= e; i++)
            *at++ = i < used ? d[i] : '0';
        if (used > e + 1) {
            *at++ = '.';
            memcpy(at, d + e + 1, used - e - 1);
            at += used - e - 1;
        }
    }
    return at;
}

/* A read id as format_field writes it: tab, newline and carriage return become spaces. */
static char *put_id(char *at, Field f)
{
    for (Py_ssize_t i = 0; i < f.len; i++) {
        char c = f.text[i];
        *at++ = (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
    }
    return at;
}

typedef struct {
    const Field *ids, *names, *taxids;
    const void *probs;
    int wide; /* probs are float64 */
    const int64_t *first, *second;
    const double *none;
    Py_ssize_t n, classes;
    double min_prob;
    Field unclassified;
} Batch;

static double prob_at(const Batch *b, Py_ssize_t read, int64_t species)
{
    Py_ssize_t at = read * b->classes + species;
    return b->wide ? ((const double *)b->probs)[at] : (double)((const float *)b->probs)[at];
}

/* Write every line into `out` (large enough); returns the end. Runs without the GIL. */
static char *write_lines(const Batch *b, char *out)
{
    static const Field tab = {"\t", 1}, na = {"NA", 2}, zero = {"0", 1};
    locale_t before = uselocale(c_locale);
    char *at = out;
    for (Py_ssize_t i = 0; i < b->n; i++) {
        int64_t a = b->first[i], r = b->second[i];
        double pa = prob_at(b, i, a);
        at = put(put_id(at, b->ids[i]), tab);
        if (pa >= b->min_prob) {
            at = put(put(put(put(at, b->names[a]), tab), b->taxids[a]), tab);
            at = put(put(put(put_number(at, pa), tab), b->names[r]), tab);
            at = put(put_number(at, prob_at(b, i, r)), tab);
        } else {
            at = put(put(put(put(at, b->unclassified), tab), zero), tab);
            at = put(put(put(put_number(at, pa), tab), b->names[a]), tab);
            at = put(put_number(at, pa), tab);
        }
        at = b->none ? put_number(at, b->none[i]) : put(at, na);
        *at++ = '\n';
    }
    uselocale(before);
    return at;
}

static int get_buffer(PyObject *obj, Py_buffer *view, const char *formats, Py_ssize_t items, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->format == NULL || strchr(formats, view->format[0]) == NULL || view->format[1] != '\0'
        || view->len != items * view->itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: %zd C-contiguous items of type '%s' expected", name, items, formats);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static Py_ssize_t longest(const Field *fields, Py_ssize_t n)
{
    Py_ssize_t most = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        most = fields[i].len > most ? fields[i].len : most;
    return most;
}

/* The lines of a batch, or None (no error set) when a field is not a one-byte str or a
 * species index is out of range. References of our own keep every str alive while the
 * GIL is released. */
static PyObject *format_batch(Batch *b, PyObject *ids, PyObject *names, PyObject *taxids)
{
    Py_ssize_t n = b->n, classes = b->classes, taken = 0;
    PyObject **held = PyMem_Calloc(n + 2 * classes, sizeof(PyObject *)), *result = NULL;
    Field *fields = PyMem_Calloc(n + 2 * classes, sizeof(Field));
    char *text = NULL;
    if (!held || !fields) {
        PyErr_NoMemory();
        goto release;
    }
    PyObject *lists[3] = {ids, names, taxids};
    for (int l = 0; l < 3; l++)
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lists[l]); i++) {
            PyObject *s = PyList_GET_ITEM(lists[l], i);
            if (!PyUnicode_Check(s) || PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND)
                goto release;
            held[taken] = Py_NewRef(s);
            fields[taken++] = (Field){(const char *)PyUnicode_1BYTE_DATA(s), PyUnicode_GET_LENGTH(s)};
        }
    b->ids = fields, b->names = fields + n, b->taxids = fields + n + classes;
    Py_ssize_t size = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (b->first[i] < 0 || b->first[i] >= classes || b->second[i] < 0 || b->second[i] >= classes)
            goto release;
        size += fields[i].len;
    }
    Py_ssize_t per_row = 2 * longest(b->names, classes) + longest(b->taxids, classes) + b->unclassified.len
                         + 4 * NUMBER_MAX + 16;
    text = PyMem_RawMalloc(size + n * per_row + 1);
    if (text == NULL) {
        PyErr_NoMemory();
        goto release;
    }
    char *end;
    Py_BEGIN_ALLOW_THREADS
    end = write_lines(b, text);
    Py_END_ALLOW_THREADS
    result = PyUnicode_DecodeLatin1(text, end - text, NULL);
release:
    for (Py_ssize_t i = 0; i < taken; i++)
        Py_DECREF(held[i]);
    PyMem_RawFree(text);
    PyMem_Free(held);
    PyMem_Free(fields);
    if (result == NULL && !PyErr_Occurred())
        result = Py_NewRef(Py_None);
    return result;
}

static PyObject *taxon_text(PyObject *self, PyObject *args)
{
    PyObject *ids, *probs_obj, *first_obj, *second_obj, *none_obj, *names, *taxids, *unclassified;
    double min_prob;
    if (!PyArg_ParseTuple(args, "O!OOOOO!O!dU", &PyList_Type, &ids, &probs_obj, &first_obj, &second_obj, &none_obj,
                          &PyList_Type, &names, &PyList_Type, &taxids, &min_prob, &unclassified))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(ids), classes = PyList_GET_SIZE(names);
    if (PyList_GET_SIZE(taxids) != classes || classes < 1) {
        PyErr_SetString(PyExc_ValueError, "names and taxids must be lists of the same length >= 1");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(unclassified))
        Py_RETURN_NONE;
    Batch b = {.n = n, .classes = classes, .min_prob = min_prob,
               .unclassified = {(const char *)PyUnicode_1BYTE_DATA(unclassified), PyUnicode_GET_LENGTH(unclassified)}};
    Py_buffer probs, first, second, none = {0};
    if (get_buffer(probs_obj, &probs, "fd", n * classes, "probs") < 0)
        return NULL;
    PyObject *result = NULL;
    if (get_buffer(first_obj, &first, "lq", n, "first") < 0)
        goto no_first;
    if (get_buffer(second_obj, &second, "lq", n, "second") < 0)
        goto no_second;
    if (first.itemsize != 8 || second.itemsize != 8) {
        PyErr_SetString(PyExc_ValueError, "first, second: 8-byte integers expected");
        goto no_none;
    }
    if (none_obj != Py_None && get_buffer(none_obj, &none, "d", n, "none") < 0)
        goto no_none;
    b.probs = probs.buf, b.wide = probs.itemsize == 8, b.first = first.buf, b.second = second.buf;
    b.none = none_obj == Py_None ? NULL : none.buf;
    result = format_batch(&b, ids, names, taxids);
    if (none_obj != Py_None)
        PyBuffer_Release(&none);
no_none:
    PyBuffer_Release(&second);
no_second:
    PyBuffer_Release(&first);
no_first:
    PyBuffer_Release(&probs);
    return result;
}

static PyMethodDef methods[] = {
    {"taxon_text", taxon_text, METH_VARARGS,
     "taxon_text(ids, probs, first, second, none, names, taxids, min_prob, unclassified) -> the TSV lines of "
     "predict --task taxon as taxon_lines writes them, or None where this path does not apply."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rows", "TSV lines of predict --task taxon, in C.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__rows(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return PyErr_NoMemory();
    return PyModule_Create(&module);
}
