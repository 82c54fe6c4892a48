/* The merge rounds of rcbpe encoding (genotx/tokenizers/symmetric.py) in C.
 *
 * merge_rounds(token, next, prev, rank, made, alive, candidates, high,
 *              dense_rank, dense_made, side, keys, key_rank, key_made, radix) -> bytes
 *
 * The same rounds as TokenChain.merge_band without `changes`: the arrays of the
 * chain are updated in place and the nodes whose pairs changed are returned
 * (int32, with repeats). `candidates`: sorted unique int32 nodes whose pairs rank
 * below `high`. The Python version stays the reference and the trainer's engine;
 * tests/test_tokenizers_bpe.py compares the two. Each round of the Python version
 * costs some 60 numpy calls, which on the small candidate sets of most rounds cost
 * far more than the work: here a round costs what its candidates cost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NO_RANK INT32_MAX

typedef struct {
    int32_t *token, *next, *prev, *rank, *made;
    uint8_t *alive;
    const int32_t *dense_rank, *dense_made, *key_rank, *key_made;
    const int64_t *keys;
    Py_ssize_t n_keys;
    long side, radix;
} Chain;

/* Rank and merged id of the pair (left, right), as PairTable.lookup. */
static void look_up(const Chain *c, int32_t node)
{
    int32_t left = c->token[node], right = c->token[c->next[node]];
    if (left < c->side && right < c->side) {
        c->rank[node] = c->dense_rank[left * c->side + right];
        c->made[node] = c->dense_made[left * c->side + right];
        return;
    }
    int64_t key = (int64_t)left * c->radix + right;
    Py_ssize_t lo = 0, hi = c->n_keys;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (c->keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n_keys && c->keys[lo] == key) {
        c->rank[node] = c->key_rank[lo];
        c->made[node] = c->key_made[lo];
    } else {
        c->rank[node] = NO_RANK;
    }
}

/* select_pairs of symmetric.py on r[0..n): take[j] = 1 for the pairs merged this round.
 * eq and pad are scratch of n + 1 and n + 2 entries. */
static void select_pairs(const int32_t *r, Py_ssize_t n, uint8_t *take, uint8_t *eq, int32_t *pad)
{
    eq[0] = eq[n] = 0;
    for (Py_ssize_t j = 1; j < n; j++)
        eq[j] = r[j] == r[j - 1] && r[j] != NO_RANK;
    pad[0] = pad[n + 1] = NO_RANK;
    memcpy(pad + 1, r, n * sizeof(int32_t));
    for (Py_ssize_t j = 0; j + 1 < n; j++) /* a run of exactly two: stuck, and no obstacle */
        if (eq[j + 1] && !eq[j] && !eq[j + 2])
            pad[j + 1] = pad[j + 2] = NO_RANK;
    memset(take, 0, n);
    for (Py_ssize_t j = 0; j < n;) {
        int in_run = eq[j] || eq[j + 1];
        int32_t value = pad[j + 1];
        if (!in_run || value == NO_RANK) {
            take[j] = !in_run && value < pad[j] && value < pad[j + 2];
            j++;
            continue;
        }
        /* a run of three or more equal ranks: positions first..last */
        Py_ssize_t first = j, last = j;
        while (last + 1 < n && pad[last + 2] == value && (eq[last + 1] || eq[last + 2]))
            last++;
        j = last + 1;
        if (!(value < pad[first] && value < pad[last + 2]))
            continue;
        Py_ssize_t m = last - first + 1;
        for (Py_ssize_t at = 0; at < m; at++) {
            Py_ssize_t from_end = m - 1 - at;
            take[first + at] = (at % 2 == 0 && 2 * at + 2 < m) || (from_end % 2 == 0 && 2 * from_end + 2 < m) ||
                               (at == from_end && at % 2 == 0);
        }
    }
}

static int compare_nodes(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted unique nodes of v[0..n) whose pairs rank below high; returns the new count. */
static Py_ssize_t unique_below(const Chain *c, int32_t *v, Py_ssize_t n, int32_t high)
{
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (c->rank[v[i]] < high)
            v[kept++] = v[i];
    qsort(v, kept, sizeof(int32_t), compare_nodes);
    Py_ssize_t out = 0;
    for (Py_ssize_t i = 0; i < kept; i++)
        if (out == 0 || v[i] != v[out - 1])
            v[out++] = v[i];
    return out;
}

typedef struct {
    int32_t *data;
    Py_ssize_t size, capacity;
} Nodes;

static int reserve(Nodes *v, Py_ssize_t size)
{
    if (size <= v->capacity)
        return 0;
    Py_ssize_t capacity = v->capacity ? v->capacity : 64;
    while (capacity < size)
        capacity *= 2;
    int32_t *data = realloc(v->data, capacity * sizeof(int32_t));
    if (data == NULL)
        return -1;
    v->data = data;
    v->capacity = capacity;
    return 0;
}

static int push(Nodes *v, int32_t node)
{
    if (reserve(v, v->size + 1) < 0)
        return -1;
    v->data[v->size++] = node;
    return 0;
}

/* The rounds; returns 0, or -1 when out of memory. */
static int rounds(Chain *c, Nodes *cand, int32_t high, Nodes *changed)
{
    Nodes seq_rank = {0}, seq_node = {0}, chosen = {0}, near = {0}, pad = {0};
    uint8_t *take = NULL, *eq = NULL;
    int status = -1;
    while (cand->size) {
        /* the candidates' ranks in chain order, a NO_RANK gap where two are not neighbours */
        seq_rank.size = seq_node.size = 0;
        for (Py_ssize_t i = 0; i < cand->size; i++) {
            int32_t node = cand->data[i];
            if (i && c->next[cand->data[i - 1]] != node)
                if (push(&seq_rank, NO_RANK) < 0 || push(&seq_node, -1) < 0)
                    goto done;
            if (push(&seq_rank, c->rank[node]) < 0 || push(&seq_node, node) < 0)
                goto done;
        }
        Py_ssize_t n = seq_rank.size;
        uint8_t *grown = realloc(take, 2 * n + 2);
        if (grown == NULL || reserve(&pad, n + 2) < 0)
            goto done;
        take = grown;
        eq = take + n;
        select_pairs(seq_rank.data, n, take, eq, pad.data);
        chosen.size = 0;
        for (Py_ssize_t j = 0; j < n; j++)
            if (take[j] && push(&chosen, seq_node.data[j]) < 0)
                goto done;
        if (!chosen.size)
            break;
        /* merge: each chosen node takes its merged token and drops its right neighbour */
        near.size = 0;
        for (Py_ssize_t i = 0; i < chosen.size; i++) {
            int32_t node = chosen.data[i], right = c->next[node], after = c->next[right];
            c->token[node] = c->made[node];
            c->alive[right] = 0;
            c->next[node] = after;
            c->prev[after] = node;
            c->rank[right] = NO_RANK;
        }
        /* the pairs that changed: each merged node and the one before it */
        Py_ssize_t first_dirty = changed->size;
        for (Py_ssize_t i = 0; i < chosen.size; i++) {
            int32_t node = chosen.data[i], before = c->prev[node];
            Py_ssize_t last = changed->size - 1;
            if ((changed->size == first_dirty || changed->data[last] != before) && push(changed, before) < 0)
                goto done;
            if (push(changed, node) < 0)
                goto done;
        }
        for (Py_ssize_t i = first_dirty; i < changed->size; i++)
            look_up(c, changed->data[i]);
        /* next candidates: these, the changed pairs, their neighbours, and the pair two
         * away on each side where it may have formed a stuck run with a changed one */
        if (reserve(&near, cand->size + 3 * (changed->size - first_dirty) + 4 * chosen.size) < 0)
            goto done;
        memcpy(near.data, cand->data, cand->size * sizeof(int32_t));
        near.size = cand->size;
        for (Py_ssize_t i = first_dirty; i < changed->size; i++)
            near.data[near.size++] = changed->data[i];
        for (Py_ssize_t i = 0; i < chosen.size; i++) {
            int32_t node = chosen.data[i], before = c->prev[node], after = c->next[node];
            int32_t left2 = c->prev[before], left3 = c->prev[left2], right3 = c->next[after];
            near.data[near.size++] = left2;
            near.data[near.size++] = after;
            if (c->rank[left3] == c->rank[left2])
                near.data[near.size++] = left3;
            if (c->rank[right3] == c->rank[after])
                near.data[near.size++] = right3;
        }
        if (reserve(cand, near.size) < 0)
            goto done;
        memcpy(cand->data, near.data, near.size * sizeof(int32_t));
        cand->size = unique_below(c, cand->data, near.size, high);
    }
    status = 0;
done:
    free(seq_rank.data);
    free(seq_node.data);
    free(chosen.data);
    free(near.data);
    free(pad.data);
    free(take);
    return status;
}

static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t item, int writable, const char *name)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != item && !(view->len == 0)) {
        PyErr_Format(PyExc_ValueError, "merge_rounds: %s must have %zd-byte items", name, item);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *merge_rounds(PyObject *self, PyObject *args)
{
    PyObject *objs[13];
    int high;
    long side, radix;
    if (!PyArg_ParseTuple(args, "OOOOOOOiOOlOOOl", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5],
                          &objs[6], &high, &objs[7], &objs[8], &side, &objs[9], &objs[10], &objs[11], &radix))
        return NULL;
    static const char *names[12] = {"token", "next", "prev", "rank", "made", "alive", "candidates",
                                    "dense_rank", "dense_made", "keys", "key_rank", "key_made"};
    static const Py_ssize_t items[12] = {4, 4, 4, 4, 4, 1, 4, 4, 4, 8, 4, 4};
    Py_buffer views[12];
    int got = 0;
    PyObject *result = NULL;
    for (; got < 12; got++)
        if (get_buffer(objs[got], &views[got], items[got], got < 6, names[got]) < 0)
            goto done;
    Chain c = {views[0].buf, views[1].buf, views[2].buf, views[3].buf, views[4].buf, views[5].buf,
               views[7].buf, views[8].buf, views[10].buf, views[11].buf, views[9].buf,
               views[9].len / 8, side, radix};
    Nodes cand = {0}, changed = {0};
    Py_ssize_t n_cand = views[6].len / 4;
    if (reserve(&cand, n_cand + 1) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(cand.data, views[6].buf, n_cand * sizeof(int32_t));
    cand.size = n_cand;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = rounds(&c, &cand, (int32_t)high, &changed);
    Py_END_ALLOW_THREADS
    if (status < 0)
        PyErr_NoMemory();
    else
        result = PyBytes_FromStringAndSize((const char *)changed.data, changed.size * sizeof(int32_t));
    free(cand.data);
    free(changed.data);
done:
    while (got > 0)
        PyBuffer_Release(&views[--got]);
    return result;
}

static PyMethodDef methods[] = {
    {"merge_rounds", merge_rounds, METH_VARARGS,
     "merge_rounds(token, next, prev, rank, made, alive, candidates, high, dense_rank, dense_made, side, keys, "
     "key_rank, key_made, radix) -> bytes: the merge rounds of TokenChain.merge_band, in place; the changed nodes "
     "as int32."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_symmetric", "Merge rounds of rcbpe encoding.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__symmetric(void) { return PyModule_Create(&module); }
