/* Optional C speed-ups for indexing's hottest pure-Python loops.
 *
 * ragls works without this module: each function here has a Python twin (named in its docstring)
 * that computes the same result and is used when the extension could not be built (no C compiler
 * at install time). Tests compare the two on random text, so the twins cannot drift apart.
 *
 * Why C: finding camelCase words means looking at every character of every indexed chunk (31 MB
 * for the Python standard library). Python's regex engine spends ~0.25 us on each of the 1.6 M
 * upper-case letters there; a plain loop over the characters takes ~1 ns each.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { OTHER = 0, LOWER = 1, UPPER = 2, DIGIT = 3 };

static unsigned char ascii_class[128];

static void init_ascii_class(void) {
    for (int c = 'a'; c <= 'z'; c++) ascii_class[c] = LOWER;
    for (int c = 'A'; c <= 'Z'; c++) ascii_class[c] = UPPER;
    for (int c = '0'; c <= '9'; c++) ascii_class[c] = DIGIT;
}

static inline int char_class(Py_UCS4 ch) { return ch < 128 ? ascii_class[ch] : OTHER; }

/* Scans the maximal runs of ASCII letters and digits ("words"; underscores, dots and every non-ASCII
 * character separate them) and appends the camelCase/PascalCase ones to `words`:
 *   - a word starting with a lower-case letter that holds an upper-case letter (fooBar, x1Y);
 *   - a word starting with an upper-case letter that holds a lower-case letter and another
 *     upper-case letter (FooBar, HTTPResponse; not Foo, FOO, A1B);
 *   - never a word starting with a digit (2fooBar is not an identifier).
 * `READ(i)` yields the i-th character; it is specialised per string kind below. */
#define SCAN_WORDS(READ)                                                                           \
    while (i < n) {                                                                               \
        int cls = char_class(READ(i));                                                            \
        if (cls == OTHER) {                                                                       \
            i++;                                                                                  \
            continue;                                                                             \
        }                                                                                         \
        Py_ssize_t start = i;                                                                     \
        int first = cls, has_lower = cls == LOWER, later_upper = 0;                               \
        for (i++; i < n; i++) {                                                                   \
            cls = char_class(READ(i));                                                            \
            if (cls == OTHER) break;                                                              \
            has_lower |= cls == LOWER;                                                            \
            later_upper |= cls == UPPER;                                                          \
        }                                                                                         \
        if (later_upper && has_lower && first != DIGIT) {                                         \
            PyObject *word = PyUnicode_Substring(text, start, i);                                 \
            if (word == NULL || PyList_Append(words, word) < 0) {                                 \
                Py_XDECREF(word);                                                                 \
                Py_DECREF(words);                                                                 \
                return NULL;                                                                      \
            }                                                                                     \
            Py_DECREF(word);                                                                      \
        }                                                                                         \
    }

static PyObject *camel_words(PyObject *Py_UNUSED(module), PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "camel_words() expects str, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) return NULL; /* a legacy string from an old C API (gone in 3.12) */
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    PyObject *words = PyList_New(0);
    if (words == NULL) return NULL;
    if (kind == PyUnicode_1BYTE_KIND) {  /* nearly all source text: ASCII or Latin-1 */
        const Py_UCS1 *chars = (const Py_UCS1 *)data;
#define READ_UCS1(k) chars[k]
        SCAN_WORDS(READ_UCS1)
#undef READ_UCS1
    } else {
#define READ_ANY(k) PyUnicode_READ(kind, data, k)
        SCAN_WORDS(READ_ANY)
#undef READ_ANY
    }
    return words;
}

/* Which of up to 64 ASCII "gates" occur in text, as a bit mask (bit g: gates[g] occurs).
 * gates: a tuple of (str, bool) pairs; with the bool true the gate (given in lower case) matches
 * ASCII letters of either case. One pass over the text instead of one `in` scan per gate: the
 * secret detector (core/secrets.py) has ~20 gates and runs on every indexed file.
 * Twin: secrets._gates_python. */
typedef struct {
    char chars[32];
    Py_ssize_t len;
    int fold;
} Gate;

static inline Py_UCS4 ascii_lower(Py_UCS4 ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

#define SCAN_GATES(READ)                                                                           \
    for (Py_ssize_t i = 0; i < n && found != all; i++) {                                          \
        Py_UCS4 ch = READ(i);                                                                     \
        if (ch >= 128) continue;                                                                  \
        unsigned long long candidates = first[ch] & ~found;                                       \
        while (candidates) {                                                                      \
            int g = __builtin_ctzll(candidates);                                                  \
            candidates &= candidates - 1;                                                         \
            const Gate *gate = &table[g];                                                         \
            if (i + gate->len > n) continue;                                                      \
            Py_ssize_t k = 1;                                                                     \
            for (; k < gate->len; k++) {                                                          \
                Py_UCS4 c = READ(i + k);                                                          \
                if ((gate->fold ? ascii_lower(c) : c) != (Py_UCS4)(unsigned char)gate->chars[k]) break; \
            }                                                                                     \
            if (k == gate->len) found |= 1ULL << g;                                               \
        }                                                                                         \
    }

static PyObject *secret_gates(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "secret_gates(text: str, gates: tuple) expected");
        return NULL;
    }
    PyObject *text = args[0], *gates = args[1];
    Py_ssize_t count = PyTuple_GET_SIZE(gates);
    if (count > 64) {
        PyErr_SetString(PyExc_ValueError, "secret_gates: at most 64 gates");
        return NULL;
    }
    Gate table[64];
    unsigned long long first[128] = {0}, all = 0;
    for (Py_ssize_t g = 0; g < count; g++) {
        PyObject *pair = PyTuple_GET_ITEM(gates, g);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "secret_gates: each gate is a (str, bool) pair");
            return NULL;
        }
        Py_ssize_t len;
        const char *chars = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(pair, 0), &len);
        if (chars == NULL) return NULL;
        if (len < 1 || len >= 32) {
            PyErr_SetString(PyExc_ValueError, "secret_gates: a gate has 1..31 ASCII characters");
            return NULL;
        }
        for (Py_ssize_t k = 0; k < len; k++) {
            if ((unsigned char)chars[k] >= 128) {
                PyErr_SetString(PyExc_ValueError, "secret_gates: gates are ASCII");
                return NULL;
            }
        }
        int fold = PyObject_IsTrue(PyTuple_GET_ITEM(pair, 1));
        if (fold < 0) return NULL;
        memcpy(table[g].chars, chars, (size_t)len);
        table[g].len = len;
        table[g].fold = fold;
        unsigned char c0 = (unsigned char)chars[0];
        first[c0] |= 1ULL << g;
        if (fold && c0 >= 'a' && c0 <= 'z') first[c0 - 32] |= 1ULL << g;
        all |= 1ULL << g;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) return NULL;
#endif
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    unsigned long long found = 0;
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *chars = (const Py_UCS1 *)data;
#define READ_UCS1(k) chars[k]
        SCAN_GATES(READ_UCS1)
#undef READ_UCS1
    } else {
#define READ_ANY(k) PyUnicode_READ(kind, data, k)
        SCAN_GATES(READ_ANY)
#undef READ_ANY
    }
    return PyLong_FromUnsignedLongLong(found);
}

static PyMethodDef speedups_methods[] = {
    {"secret_gates", (PyCFunction)(void (*)(void))secret_gates, METH_FASTCALL,
     "secret_gates(text, gates, /)\n--\n\n"
     "Bit mask of the (str, fold) gates that occur in text (twin: secrets._gates_python)."},
    {"camel_words", camel_words, METH_O,
     "camel_words(text, /)\n--\n\n"
     "The camelCase/PascalCase words of text, in order (twin: identifiers._camel_words_python)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "ragls._speedups",
    .m_doc = "Optional C speed-ups for indexing (see _speedups.c).",
    .m_size = -1,
    .m_methods = speedups_methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    init_ascii_class();
    return PyModule_Create(&speedups_module);
}
