/* The input normal form (A C G T N only) as the C fast paths check it; the
 * Python side's rule is genotx/io/normalise.py. Included by genotx/io/_fastq.c
 * and genotx/tokenizers/_rows.c. */
#ifndef GENOTX_NORMAL_FORM_H
#define GENOTX_NORMAL_FORM_H

#include <Python.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 1 when every byte is one of A C G T N. With SSE2, 16 bytes at a time: compilers
 * turn the scalar form into a bit test per byte, which dominated FASTQ parsing. */
static int in_normal_form(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
#ifdef __SSE2__
    const __m128i a = _mm_set1_epi8('A'), c = _mm_set1_epi8('C'), g = _mm_set1_epi8('G'),
                  t = _mm_set1_epi8('T'), nn = _mm_set1_epi8('N');
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, a), _mm_cmpeq_epi8(x, c)),
                                   _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, g), _mm_cmpeq_epi8(x, t)),
                                                _mm_cmpeq_epi8(x, nn)));
        if (_mm_movemask_epi8(hit) != 0xffff)
            return 0;
    }
#endif
    for (; i < n; i++) {
        unsigned char b = p[i];
        if (b != 'A' && b != 'C' && b != 'G' && b != 'T' && b != 'N')
            return 0;
    }
    return 1;
}

#endif
