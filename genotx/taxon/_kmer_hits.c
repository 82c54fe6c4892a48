/* Per-species k-mer hits of reads against the taxon k-mer index, in C.
 *
 * kmer_hits(seqs, words, k, bits, hits, valid)
 *
 *   seqs   list of str: normalised reads (A C G T N; anything else counts as N)
 *   words  unsigned buffer (1, 2, 4 or 8 bytes an item) of 2**bits + 1 entries: bit c of words[b] is set when a
 *          canonical k-mer of species c hashes to bucket b (the last entry is 0)
 *   hits   writable int32 buffer (len(seqs), classes): k-mers whose species bit is set
 *   valid  writable int32 buffer (len(seqs)): k-mers without N
 *
 * The same counts as the numpy path of genotx's k-mer index (canonical 2-bit
 * k-mer = min(forward, reverse complement), bucket = top `bits` bits of
 * kmer * 0x9E3779B97F4A7C15), which stays the reference; the tests compare the
 * two on random reads with N. One pass per read with rolling forward and reverse
 * codes: about 15 ns per k-mer against some 60 ns for the numpy path, whose
 * passes over whole-batch temporaries are bound by memory traffic. The GIL is
 * released while counting, so two threads count two halves of a batch at once.
 * Up to 64 species (one word of at most 8 bytes per bucket); more fall back to numpy.
 * Bits above the last species are masked off, so a damaged index cannot count out of a row.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define HASH_MULTIPLIER 0x9E3779B97F4A7C15ULL

static uint8_t CODE[256];

/* Look-ups run AHEAD buckets behind the hashing, each bucket prefetched when hashed: the
 * table (2**bits words) is far larger than the caches, and reads are short, so hiding the
 * memory latency of independent look-ups is what makes this fast. */
#define AHEAD 16

#define COUNT_READ(NAME, WORD)                                                                      \
    static void NAME(const uint8_t *seq, Py_ssize_t len, const WORD *words, uint64_t species,       \
                     int k, int bits, int32_t *hits, int32_t *valid)                                \
    {                                                                                               \
        const uint64_t mask = (k == 32) ? ~0ULL : ((1ULL << (2 * k)) - 1);                          \
        const int shift = 64 - bits, top = 2 * (k - 1);                                             \
        uint64_t fwd = 0, rev = 0, ring[AHEAD];                                                     \
        int run = 0;                                                                                \
        Py_ssize_t queued = 0, done = 0;                                                            \
        for (Py_ssize_t i = 0; i <= len; i++) {                                                     \
            if (i < len) {                                                                          \
                uint64_t code = CODE[seq[i]];                                                       \
                if (code > 3) {                                                                     \
                    run = 0;                                                                        \
                    fwd = rev = 0;                                                                  \
                    continue;                                                                       \
                }                                                                                   \
                fwd = ((fwd << 2) | code) & mask;                                                   \
                rev = (rev >> 2) | ((3 - code) << top);                                             \
                if (++run < k)                                                                      \
                    continue;                                                                       \
                uint64_t canonical = fwd < rev ? fwd : rev;                                         \
                uint64_t bucket = (canonical * HASH_MULTIPLIER) >> shift;                           \
                __builtin_prefetch(words + bucket);                                                 \
                ring[queued++ % AHEAD] = bucket;                                                    \
                if (queued - done < AHEAD)                                                          \
                    continue;                                                                       \
            }                                                                                       \
            while (done < queued && (i == len || queued - done >= AHEAD)) {                         \
                uint64_t word = words[ring[done++ % AHEAD]] & species;                              \
                while (word) {                                                                      \
                    hits[__builtin_ctzll(word)]++;                                                  \
                    word &= word - 1;                                                               \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
        *valid = (int32_t)queued;                                                                   \
    }

COUNT_READ(count_read8, uint8_t)
COUNT_READ(count_read16, uint16_t)
COUNT_READ(count_read32, uint32_t)
COUNT_READ(count_read64, uint64_t)

static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t item, int writable, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != item) {
        PyErr_Format(PyExc_ValueError, "%s: items of %zd bytes expected, got %zd", name, item, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *kmer_hits(PyObject *self, PyObject *args)
{
    PyObject *seqs, *words_obj, *hits_obj, *valid_obj;
    int k, bits;
    if (!PyArg_ParseTuple(args, "O!OiiOO", &PyList_Type, &seqs, &words_obj, &k, &bits, &hits_obj, &valid_obj))
        return NULL;
    if (k < 1 || k > 32 || bits < 1 || bits > 63) {
        PyErr_Format(PyExc_ValueError, "k must be in 1..32 and bits in 1..63, got %d and %d", k, bits);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(seqs);
    Py_buffer words, hits, valid;
    if (PyObject_GetBuffer(words_obj, &words, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    Py_ssize_t width = words.itemsize;
    if (width != 1 && width != 2 && width != 4 && width != 8) {
        PyErr_Format(PyExc_ValueError, "words: items of 1, 2, 4 or 8 bytes expected, got %zd", width);
        PyBuffer_Release(&words);
        return NULL;
    }
    if (get_buffer(hits_obj, &hits, 4, 1, "hits") < 0) {
        PyBuffer_Release(&words);
        return NULL;
    }
    if (get_buffer(valid_obj, &valid, 4, 1, "valid") < 0) {
        PyBuffer_Release(&words);
        PyBuffer_Release(&hits);
        return NULL;
    }
    PyObject *result = NULL;
    PyObject **held = NULL;
    const uint8_t **data = NULL;
    Py_ssize_t *lens = NULL;
    Py_ssize_t classes = n ? hits.len / 4 / n : 0;
    if (words.len / width != ((Py_ssize_t)1 << bits) + 1 || valid.len / 4 != n || (n && hits.len / 4 != n * classes)
        || classes > 8 * width) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes do not match 2**bits + 1 words, len(seqs) reads, <= 8 * itemsize classes");
        goto done;
    }
    held = PyMem_Malloc(sizeof(PyObject *) * (n + 1));
    data = PyMem_Malloc(sizeof(uint8_t *) * (n + 1));
    lens = PyMem_Malloc(sizeof(Py_ssize_t) * (n + 1));
    if (!held || !data || !lens) {
        PyErr_NoMemory();
        goto done;
    }
    /* References of our own keep every string alive while the GIL is released. */
    Py_ssize_t taken = 0;
    for (; taken < n; taken++) {
        PyObject *s = PyList_GET_ITEM(seqs, taken);
        if (!PyUnicode_Check(s) || PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
            PyErr_Format(PyExc_ValueError, "read %zd is not a one-byte str", taken);
            break;
        }
        Py_INCREF(s);
        held[taken] = s;
        data[taken] = PyUnicode_1BYTE_DATA(s);
        lens[taken] = PyUnicode_GET_LENGTH(s);
    }
    if (taken == n) {
        int32_t *hit_rows = hits.buf, *valid_out = valid.buf;
        const uint64_t species = classes >= 64 ? ~0ULL : (1ULL << classes) - 1;
        memset(hit_rows, 0, hits.len);
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n; i++) {
            int32_t *row = hit_rows + i * classes;
            if (width == 1)
                count_read8(data[i], lens[i], words.buf, species, k, bits, row, valid_out + i);
            else if (width == 2)
                count_read16(data[i], lens[i], words.buf, species, k, bits, row, valid_out + i);
            else if (width == 4)
                count_read32(data[i], lens[i], words.buf, species, k, bits, row, valid_out + i);
            else
                count_read64(data[i], lens[i], words.buf, species, k, bits, row, valid_out + i);
        }
        Py_END_ALLOW_THREADS
        result = Py_None;
        Py_INCREF(result);
    }
    for (Py_ssize_t i = 0; i < taken; i++)
        Py_DECREF(held[i]);
done:
    PyMem_Free(held);
    PyMem_Free(data);
    PyMem_Free(lens);
    PyBuffer_Release(&words);
    PyBuffer_Release(&hits);
    PyBuffer_Release(&valid);
    return result;
}

static PyMethodDef methods[] = {
    {"kmer_hits", kmer_hits, METH_VARARGS,
     "kmer_hits(seqs, words, k, bits, hits, valid): per-species k-mer hits and valid k-mers of each read."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kmer_hits", "k-mer hits of reads against the taxon index.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__kmer_hits(void)
{
    memset(CODE, 4, sizeof CODE);
    CODE['A'] = 0;
    CODE['C'] = 1;
    CODE['G'] = 2;
    CODE['T'] = 3;
    return PyModule_Create(&module);
}
