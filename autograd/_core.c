/* The compiled twin of autograd/value.py: the same Value, node for node, in C.
 *
 * What lives here: the node (data, grad, label, op, parents), its arithmetic, `apply`, the
 * grad-mode flag (one per thread) and the first-order backward walk. Everything else -- the op
 * table, create_graph, the functional API, gradcheck, drawing -- stays in Python and reads
 * nodes through `data grad label _op _prev`.
 *
 * One source of truth stays the op table (autograd/ops.py). The ops of the table are recognised
 * by the identity of their Op objects and computed here with the same formulas; any other Op (a
 * user's) runs through its Python `compute` and `partials`. Whenever something unusual happens
 * -- a result or gradient that is not finite, an input that is not a plain float or int, a
 * wrong number of inputs -- this file does not decide: it asks the Python reference (the
 * functions `_configure` receives from autograd/_compiled.py), so errors and their messages are
 * the reference's own by construction.
 *
 * Memory: a node is 80 bytes with the collector's header. It is a GC type but not tracked,
 * because parents only point backwards and cannot form a cycle. The one cycle chainrule makes is
 * a `.grad` that is a Value (create_graph) leading back to its node: setting such a grad tracks
 * the node and everything reachable from it, so the collector can free that cycle. Labels are
 * rare, so they live in a side dict keyed by the node's address. Freeing a long chain releases
 * parents with an explicit stack, never by recursion.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* --- op kinds -------------------------------------------------------------------------------- */

enum {
    K_LEAF, K_UNTRACKED,
    K_ADD, K_SUB, K_MUL, K_DIV, K_POW,                                   /* binary */
    K_NEG, K_EXP, K_LOG, K_SQRT, K_SIN, K_COS, K_TANH, K_SIGMOID,        /* unary */
    K_SOFTPLUS, K_ERF, K_GELU, K_RELU, K_ABS, K_IDENTITY,
    K_SUM, K_DOT, K_AFFINE,                                              /* n-ary */
    K_SINGLETONS,        /* the kinds above are singletons of the table, found by identity */
    K_POWER = K_SINGLETONS, K_LEAKY, K_ACTIVATED,                        /* families */
    K_PYTHON,            /* any other Op: its Python compute and partials */
    K_COUNT
};

/* the names in autograd.ops of the singleton kinds, in enum order */
static const char *const SINGLETON_NAMES[K_SINGLETONS] = {
    "LEAF", "UNTRACKED", "ADD", "SUB", "MUL", "DIV", "POW", "NEG", "EXP", "LOG", "SQRT", "SIN",
    "COS", "TANH", "SIGMOID", "SOFTPLUS", "ERF", "GELU", "RELU", "ABS", "IDENTITY", "SUM", "DOT",
    "AFFINE",
};

static int is_unary_kind(int kind) { return kind >= K_NEG && kind <= K_IDENTITY; }

/* Whether this file has the kind's rule (else the op's Python partials run). */
static int rule_in_c(int kind) { return kind >= K_ADD && kind != K_PYTHON; }

/* The kind a node with n parents runs as: its op's, or K_PYTHON when n does not fit it (the
 * op's Python rule then says what is wrong). Only `_op`/`_prev` assignments can make a misfit. */
static int fit_kind(int kind, uint32_t n)
{
    if (kind >= K_ADD && kind <= K_POW)
        return n == 2 ? kind : K_PYTHON;
    if (is_unary_kind(kind) || kind == K_POWER || kind == K_LEAKY)
        return n == 1 ? kind : K_PYTHON;
    if (kind == K_DOT)
        return n % 2 == 0 ? kind : K_PYTHON;
    if (kind == K_AFFINE || kind == K_ACTIVATED)
        return n % 2 == 1 ? kind : K_PYTHON;
    return kind;
}

/* --- the node -------------------------------------------------------------------------------- */

enum { F_MANY = 1, F_GRAD_VALUE = 2, F_LABEL = 4, F_SEEN = 8, F_DONE = 16, F_GOT = 32,
       F_BUSY = 64 };
/* F_SEEN, F_DONE: marks of the walk's sort; F_GOT: the walk added to its grad; F_BUSY: in a
 * walk that runs Python code */
#define F_WALK (F_SEEN | F_DONE | F_GOT)

typedef struct Node {
    PyObject_HEAD
    double data;
    union { double f; struct Node *v; } grad;   /* v when F_GRAD_VALUE (create_graph) */
    PyObject *op;                               /* the Op, a strong reference */
    union { struct Node *two[2]; struct Node **many; } parents;   /* many when F_MANY */
    uint32_t n;                                 /* number of parents */
    uint16_t kind;
    uint16_t flags;
} Node;

static PyTypeObject ValueType;

#define IS_NODE(o) Py_IS_TYPE((o), &ValueType)

static inline Node **parents_of(Node *node)
{
    return (node->flags & F_MANY) ? node->parents.many : node->parents.two;
}

/* --- state received from autograd/_compiled.py ---------------------------------------------- */

static PyObject *g_ops[K_SINGLETONS];      /* the table's singleton Ops, by kind */
static PyObject *g_op_type;                /* autograd.ops.Op */
static PyObject *g_as_float;               /* reference: a number -> float, or the error */
static PyObject *g_check_value;            /* reference: Value(data, label) -> float, or error */
static PyObject *g_forward;                /* reference: (op, inputs) -> float data, or error */
static PyObject *g_backward;               /* reference: engine.backward(root, create_graph) */
static PyObject *g_power, *g_leaky;        /* ops.power(p), ops.leaky_relu(slope) */
static PyObject *g_reduce;                 /* reference: Value -> its __reduce__ tuple */
static PyObject *g_deepcopy;               /* reference: (Value, memo) -> a copy of its graph */
static PyObject *g_labels;                 /* {address: label} of labelled nodes */
static PyObject *g_empty;                  /* "" */
static PyObject *g_str_compute, *g_str_partials, *g_str_name, *g_str_family,
    *g_str_parameter, *g_str_activation;
static double SQRT1_2, SQRT2, INV_SQRT_2PI, TWO_OVER_SQRT_PI;

static int configured(void)
{
    if (g_forward == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "autograd._core is used before autograd._compiled configured it; "
                        "import autograd instead");
        return 0;
    }
    return 1;
}

/* --- grad mode: one flag per thread --------------------------------------------------------- */

#if defined(_MSC_VER)
#define THREAD_LOCAL __declspec(thread)
#elif defined(__GNUC__) && defined(__ELF__)
/* initial-exec: read straight from the thread pointer, not through __tls_get_addr per node */
#define THREAD_LOCAL _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define THREAD_LOCAL _Thread_local
#endif
static THREAD_LOCAL int grad_disabled;    /* 0 in every new thread: recording is on */

/* --- the families: power(p), leaky_relu(slope), activated(act), cached by Op identity -------- */

typedef struct {
    PyObject *op;        /* strong reference; the ops module caches its family members too */
    int kind;            /* K_POWER, K_LEAKY, K_ACTIVATED or K_PYTHON */
    double parameter;    /* power's exponent, leaky_relu's slope, or the activation's */
    int act_kind;        /* for K_ACTIVATED: the activation's kind (a unary kind or family) */
} Family;

#define FAMILY_CACHE 256
static Family g_families[FAMILY_CACHE];
static int g_n_families;
static int g_last_family;

static const Family *find_family(PyObject *op)
{
    if (g_n_families && g_families[g_last_family].op == op)
        return &g_families[g_last_family];
    for (int i = 0; i < g_n_families; i++)
        if (g_families[i].op == op) {
            g_last_family = i;
            return &g_families[i];
        }
    return NULL;
}

static int singleton_kind(PyObject *op)
{
    for (int k = 0; k < K_SINGLETONS; k++)
        if (g_ops[k] == op)
            return k;
    return -1;
}

/* Reads op.family/parameter/activation: fills *out, or returns -1 with an error set. */
static int describe_family(PyObject *op, Family *out, int depth)
{
    out->op = op;
    out->kind = K_PYTHON;
    out->parameter = 0.0;
    out->act_kind = K_PYTHON;
    PyObject *family = PyObject_GetAttr(op, g_str_family);
    if (family == NULL) {
        PyErr_Clear();          /* an Op without the attribute: run it through Python */
        return 0;
    }
    int is_power = PyUnicode_Check(family) && PyUnicode_CompareWithASCIIString(family, "power") == 0;
    int is_leaky = PyUnicode_Check(family) &&
                   PyUnicode_CompareWithASCIIString(family, "leaky_relu") == 0;
    int is_activated = PyUnicode_Check(family) &&
                       PyUnicode_CompareWithASCIIString(family, "activated") == 0;
    Py_DECREF(family);
    if (is_power || is_leaky) {
        PyObject *p = PyObject_GetAttr(op, g_str_parameter);
        if (p == NULL)
            return -1;
        double value = PyFloat_AsDouble(p);
        Py_DECREF(p);
        if (value == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        out->kind = is_power ? K_POWER : K_LEAKY;
        out->parameter = value;
    } else if (is_activated && depth == 0) {
        PyObject *act = PyObject_GetAttr(op, g_str_activation);
        if (act == NULL)
            return -1;
        int kind = singleton_kind(act);
        if (kind >= 0 && is_unary_kind(kind)) {
            out->kind = K_ACTIVATED;
            out->act_kind = kind;
        } else if (kind < 0) {
            Family inner;
            if (describe_family(act, &inner, depth + 1) < 0) {
                Py_DECREF(act);
                return -1;
            }
            if (inner.kind == K_POWER || inner.kind == K_LEAKY) {
                out->kind = K_ACTIVATED;
                out->act_kind = inner.kind;
                out->parameter = inner.parameter;
            }
        }
        Py_DECREF(act);
    }
    return 0;
}

/* The kind of `op` (and its family record, for families), or -1 with an error set. */
static int resolve(PyObject *op, const Family **family)
{
    *family = NULL;
    int kind = singleton_kind(op);
    if (kind >= 0)
        return kind;
    const Family *known = find_family(op);
    if (known != NULL) {
        *family = known;
        return known->kind;
    }
    Family fresh;
    if (describe_family(op, &fresh, 0) < 0)
        return -1;
    if (fresh.kind == K_PYTHON)
        return K_PYTHON;   /* a user's op: not cached, so a program making many holds none */
    if (g_n_families == FAMILY_CACHE)
        return K_PYTHON;   /* cache full: correct through Python, only slower */
    Py_INCREF(op);
    g_families[g_n_families] = fresh;
    *family = &g_families[g_n_families++];
    return fresh.kind;
}

/* --- forward formulas (the same as ops.py, in the same order of operations) ----------------- */

static double sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double z = exp(x);
    return z / (1.0 + z);
}

static double unary_forward(int kind, double parameter, double x)
{
    switch (kind) {
    case K_NEG: return -x;
    case K_EXP: return exp(x);
    case K_LOG: return x > 0.0 ? log(x) : NAN;
    case K_SQRT: return x >= 0.0 ? sqrt(x) : NAN;
    case K_SIN: return isinf(x) ? NAN : sin(x);
    case K_COS: return isinf(x) ? NAN : cos(x);
    case K_TANH: return tanh(x);
    case K_SIGMOID: return sigmoid(x);
    case K_SOFTPLUS: return ((0.0 > x) ? 0.0 : x) + log1p(exp(-fabs(x)));
    case K_ERF: return erf(x);
    case K_GELU: return 0.5 * x * (1.0 + erf(x * SQRT1_2));
    case K_RELU: return x > 0.0 ? x : 0.0;
    case K_ABS: return fabs(x);
    case K_IDENTITY: return x;
    case K_LEAKY: return x > 0.0 ? x : parameter * x;
    case K_POWER:
        if (x < 0.0 && parameter != floor(parameter))
            return NAN;
        if (x == 0.0 && parameter < 0.0)
            return NAN;
        return pow(x, parameter);
    }
    return NAN;
}

/* exp(-x*x/2), 0 beyond |x| > 40 (ops.gauss) */
static double gauss(double x) { return fabs(x) > 40.0 ? 0.0 : exp(-0.5 * x * x); }

/* The local derivative of a unary kind at x (out = its result there). */
static double unary_partial(int kind, double parameter, double out, double x)
{
    switch (kind) {
    case K_NEG: return -1.0;
    case K_EXP: return out;
    case K_LOG: return 1.0 / x;
    case K_SQRT: return 0.5 / out;
    case K_SIN: return cos(x);
    case K_COS: return -sin(x);
    case K_TANH: return 1.0 - out * out;
    case K_SIGMOID: return out * (1.0 - out);
    case K_SOFTPLUS: return sigmoid(x);
    case K_ERF: return TWO_OVER_SQRT_PI * gauss(SQRT2 * x);
    case K_GELU:
        if (isinf(x))
            return x > 0.0 ? 1.0 : 0.0;
        return 0.5 * (1.0 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * gauss(x);
    case K_RELU: return x > 0.0 ? 1.0 : 0.0;
    case K_ABS: return x > 0.0 ? 1.0 : x < 0.0 ? -1.0 : 0.0;
    case K_IDENTITY: return 1.0;
    case K_LEAKY: return x > 0.0 ? 1.0 : parameter;
    case K_POWER:
        if (parameter == 0.0)
            return 0.0;
        return parameter * pow(x, parameter - 1.0);
    }
    return NAN;
}

/* Python's sum() of floats, step by step, so results round exactly as ops.py's do: plain
 * additions before 3.12, Neumaier's compensated summation from 3.12 on. */
typedef struct { double sum, c; } Sum;

static inline void sum_add(Sum *s, double x)
{
#if PY_VERSION_HEX >= 0x030C0000
    double t = s->sum + x;
    if (fabs(s->sum) >= fabs(x))
        s->c += (s->sum - t) + x;
    else
        s->c += (x - t) + s->sum;
    s->sum = t;
#else
    s->sum += x;
#endif
}

static inline double sum_total(const Sum *s)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (s->c != 0.0 && isfinite(s->c))
        return s->sum + s->c;
#endif
    return s->sum;
}

/* sum(xs): the int 0 plus the first item, then the rest */
static double sum_of(const double *x, Py_ssize_t n)
{
    Sum s = {0.0 + x[0], 0.0};
    for (Py_ssize_t i = 1; i < n; i++)
        sum_add(&s, x[i]);
    return sum_total(&s);
}

/* sum(map(mul, xs, ys)): as sum_of, over the products */
static double dot(const double *x, const double *y, Py_ssize_t n)
{
    Sum s = {0.0 + x[0] * y[0], 0.0};
    for (Py_ssize_t i = 1; i < n; i++)
        sum_add(&s, x[i] * y[i]);
    return sum_total(&s);
}

/* ops._affine: sum(map(mul, xs, ys), b), which starts from the float b */
static double affine(const double *v, Py_ssize_t count)
{
    Py_ssize_t n = count / 2;
    Sum s = {v[count - 1], 0.0};
    for (Py_ssize_t i = 0; i < n; i++)
        sum_add(&s, v[i] * v[n + i]);
    return sum_total(&s);
}

/* The result of `kind` on x[0..n), or NAN where the reference should decide (bad arity, an
 * input outside the domain, a result that is not finite): the caller then asks Python. */
static double forward(int kind, const Family *family, Py_ssize_t n, const double *x)
{
    double result = NAN;
    double parameter = family ? family->parameter : 0.0;
    if (kind >= K_ADD && kind <= K_POW) {
        if (n != 2)
            return NAN;
        double a = x[0], b = x[1];
        switch (kind) {
        case K_ADD: result = a + b; break;
        case K_SUB: result = a - b; break;
        case K_MUL: result = a * b; break;
        case K_DIV: result = b == 0.0 ? NAN : a / b; break;
        case K_POW: result = a > 0.0 ? pow(a, b) : NAN; break;
        }
    } else if (is_unary_kind(kind) || kind == K_POWER || kind == K_LEAKY) {
        if (n != 1)
            return NAN;
        result = unary_forward(kind, parameter, x[0]);
    } else if (kind == K_SUM) {
        if (n < 1)
            return NAN;
        result = sum_of(x, n);
    } else if (kind == K_DOT) {
        if (n < 2 || n % 2)
            return NAN;
        result = dot(x, x + n / 2, n / 2);
    } else if (kind == K_AFFINE || kind == K_ACTIVATED) {
        if (n < 3 || n % 2 == 0)
            return NAN;
        result = affine(x, n);
        if (kind == K_ACTIVATED && isfinite(result))
            result = unary_forward(family->act_kind, parameter, result);
    }
    return isfinite(result) ? result : NAN;
}

/* --- making nodes ----------------------------------------------------------------------------- */

/* Nodes are allocated and freed around the collector's bookkeeping. PyObject_GC_New would count
 * every node towards the next collection (one every 700 allocations), although an untracked node
 * can never be on a cycle: building a graph would trigger collections that have nothing of it to
 * scan. So a node is allocated as PyObject_GC_New lays it out — the collector's two-word header,
 * zeroed (untracked), then the object — without the count; it is tracked later only if a Value
 * grad may put it on a cycle (track_reachable). Free-threaded builds lay objects out otherwise
 * and take the ordinary calls. */
#ifdef Py_GIL_DISABLED
static Node *alloc_node(void) { return PyObject_GC_New(Node, &ValueType); }
static void free_node(Node *node) { PyObject_GC_Del(node); }
#else
#define GC_HEADER (2 * sizeof(uintptr_t))   /* PyGC_Head, the same since Python 3.8 */

static Node *alloc_node(void)
{
    char *memory = PyObject_Malloc(GC_HEADER + sizeof(Node));
    if (memory == NULL)
        return (Node *)PyErr_NoMemory();
    memset(memory, 0, GC_HEADER);
    Node *node = (Node *)(memory + GC_HEADER);
    PyObject_Init((PyObject *)node, &ValueType);
    return node;
}

static void free_node(Node *node) { PyObject_Free((char *)node - GC_HEADER); }
#endif

static Node *new_node(double data, PyObject *op, int kind, Py_ssize_t n, Node *const *parents)
{
    if (grad_disabled && kind != K_LEAF) {
        op = g_ops[K_UNTRACKED];
        kind = K_UNTRACKED;
        n = 0;
    }
    Node **many = NULL;
    if (n > 2) {
        if ((size_t)n > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "a node can have at most 2**32 - 1 inputs");
            return NULL;
        }
        many = PyMem_Malloc(n * sizeof(Node *));
        if (many == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
    }
    Node *node = alloc_node();
    if (node == NULL) {
        PyMem_Free(many);
        return NULL;
    }
    node->data = data;
    node->grad.f = 0.0;
    node->op = Py_NewRef(op);
    node->n = (uint32_t)n;
    node->kind = (uint16_t)kind;
    node->flags = 0;
    node->parents.two[0] = node->parents.two[1] = NULL;
    Node **slots = node->parents.two;
    if (many != NULL) {
        node->parents.many = slots = many;
        node->flags = F_MANY;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        slots[i] = (Node *)Py_NewRef(parents[i]);
    return node;
}

static Node *new_leaf(double data) { return new_node(data, g_ops[K_LEAF], K_LEAF, 0, NULL); }

/* A number as a float the way Value(number) reads it, or -1 with the reference's error. */
static int number_as_double(PyObject *x, double *out)
{
    if (PyFloat_CheckExact(x)) {
        *out = PyFloat_AS_DOUBLE(x);
        if (!isnan(*out))
            return 0;
    } else if (PyLong_CheckExact(x)) {
        *out = PyLong_AsDouble(x);
        if (!(*out == -1.0 && PyErr_Occurred()))
            return 0;
        PyErr_Clear();
    }
    if (!configured())
        return -1;
    PyObject *f = PyObject_CallOneArg(g_as_float, x);   /* raises the reference's error */
    if (f == NULL)
        return -1;
    *out = PyFloat_AsDouble(f);
    Py_DECREF(f);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* A new reference to x as a node: a Value itself, or a number made a constant leaf. */
static Node *lift(PyObject *x)
{
    if (IS_NODE(x))
        return (Node *)Py_NewRef(x);
    double data;
    if (number_as_double(x, &data) < 0)
        return NULL;
    return new_leaf(data);
}

/* The reference computes the node's data (raising its own error) when this file's formulas
 * cannot: a user's op, a bad arity, or a result that is not finite. */
static int reference_forward(PyObject *op, Py_ssize_t n, Node *const *inputs, double *out)
{
    if (!configured())
        return -1;
    PyObject *tuple = PyTuple_New(n);
    if (tuple == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(inputs[i]));
    PyObject *data = PyObject_CallFunctionObjArgs(g_forward, op, tuple, NULL);
    Py_DECREF(tuple);
    if (data == NULL)
        return -1;
    *out = PyFloat_AsDouble(data);
    Py_DECREF(data);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

#define SMALL 16

/* op on nodes already lifted: the one way a non-leaf node is made */
static PyObject *record(PyObject *op, int kind, const Family *family, Py_ssize_t n,
                        Node *const *inputs)
{
    double small[SMALL], *x = small;
    double data = NAN;
    if (kind != K_PYTHON) {
        if (n > SMALL && (x = PyMem_Malloc(n * sizeof(double))) == NULL)
            return PyErr_NoMemory();
        for (Py_ssize_t i = 0; i < n; i++)
            x[i] = inputs[i]->data;
        data = forward(kind, family, n, x);
        if (x != small)
            PyMem_Free(x);
    }
    if (isnan(data) && reference_forward(op, n, inputs, &data) < 0)
        return NULL;
    return (PyObject *)new_node(data, op, kind, n, inputs);
}

static PyObject *unary(Node *x, int kind)
{
    double data = forward(kind, NULL, 1, &x->data);
    if (isnan(data) && reference_forward(g_ops[kind], 1, &x, &data) < 0)
        return NULL;
    return (PyObject *)new_node(data, g_ops[kind], kind, 1, &x);
}

static PyObject *binary(int kind, PyObject *a, PyObject *b)
{
    if (IS_NODE(a) && IS_NODE(b) && !grad_disabled) {   /* the usual case, made short */
        double x = ((Node *)a)->data, y = ((Node *)b)->data, data;
        switch (kind) {
        case K_ADD: data = x + y; break;
        case K_SUB: data = x - y; break;
        case K_MUL: data = x * y; break;
        default: data = forward(kind, NULL, 2, (double[]){x, y});
        }
        if (isfinite(data)) {
            Node *node = alloc_node();
            if (node == NULL)
                return NULL;
            node->data = data;
            node->grad.f = 0.0;
            node->op = Py_NewRef(g_ops[kind]);
            node->parents.two[0] = (Node *)Py_NewRef(a);
            node->parents.two[1] = (Node *)Py_NewRef(b);
            node->n = 2;
            node->kind = (uint16_t)kind;
            node->flags = 0;
            return (PyObject *)node;
        }
    }
    if (!configured())
        return NULL;
    Node *inputs[2];
    if ((inputs[0] = lift(a)) == NULL)
        return NULL;
    if ((inputs[1] = lift(b)) == NULL) {
        Py_DECREF(inputs[0]);
        return NULL;
    }
    double data = forward(kind, NULL, 2, (double[]){inputs[0]->data, inputs[1]->data});
    PyObject *result = NULL;
    if (!isnan(data) || reference_forward(g_ops[kind], 2, inputs, &data) == 0)
        result = (PyObject *)new_node(data, g_ops[kind], kind, 2, inputs);
    Py_DECREF(inputs[0]);
    Py_DECREF(inputs[1]);
    return result;
}

/* --- the collector: only nodes that may sit on a cycle are tracked --------------------------- */

/* A grad that is a Value was just stored in `start`: track `start` and everything reachable from
 * it (parents and Value grads). Tracked nodes' reachable nodes are already tracked, so the walk
 * stops at them; every cycle passes through a Value grad, so every cycle is then visible. */
static int track_reachable(Node *start)
{
    Py_ssize_t size = 64, top = 0;
    Node **stack = PyMem_Malloc(size * sizeof(Node *));
    if (stack == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (!PyObject_GC_IsTracked((PyObject *)start))
        PyObject_GC_Track(start);
    stack[top++] = start;
    int first = 1;
    while (top) {
        Node *node = stack[--top];
        if (!first) {
            if (PyObject_GC_IsTracked((PyObject *)node))
                continue;
            PyObject_GC_Track(node);
        }
        first = 0;
        Py_ssize_t need = top + node->n + 1;
        if (need > size) {
            while (size < need)
                size *= 2;
            Node **bigger = PyMem_Realloc(stack, size * sizeof(Node *));
            if (bigger == NULL) {
                PyMem_Free(stack);
                PyErr_NoMemory();
                return -1;
            }
            stack = bigger;
        }
        Node **parents = parents_of(node);
        for (uint32_t i = 0; i < node->n; i++)
            stack[top++] = parents[i];
        if (node->flags & F_GRAD_VALUE)
            stack[top++] = node->grad.v;
    }
    PyMem_Free(stack);
    return 0;
}

static int Value_traverse(Node *self, visitproc visit, void *arg)
{
    Py_VISIT(self->op);
    Node **parents = parents_of(self);
    for (uint32_t i = 0; i < self->n; i++)
        Py_VISIT(parents[i]);
    if (self->flags & F_GRAD_VALUE)
        Py_VISIT(self->grad.v);
    return 0;
}

/* Every cycle goes through a Value grad, so dropping those breaks it. */
static int Value_clear(Node *self)
{
    if (self->flags & F_GRAD_VALUE) {
        Node *grad = self->grad.v;
        self->flags &= ~F_GRAD_VALUE;
        self->grad.f = 0.0;
        Py_DECREF(grad);
    }
    return 0;
}

/* --- freeing: parents are released with an explicit stack, so any depth works --------------- */

typedef struct {
    Node **items;
    Py_ssize_t top, size;
    Node *small[32];
} FreeStack;

static void push_or_decref(FreeStack *s, Node *node)
{
    if (Py_REFCNT(node) > 1) {
        Py_DECREF(node);     /* someone else still holds it: nothing is freed */
        return;
    }
    if (s->top == s->size) {
        Py_ssize_t size = s->size * 2;
        Node **bigger = s->items == s->small ? PyMem_Malloc(size * sizeof(Node *))
                                             : PyMem_Realloc(s->items, size * sizeof(Node *));
        if (bigger == NULL) {
            Py_DECREF(node);   /* out of memory: free this one by recursion instead */
            return;
        }
        if (s->items == s->small)
            memcpy(bigger, s->small, sizeof(s->small));
        s->items = bigger;
        s->size = size;
    }
    s->items[s->top++] = node;
}

static void forget_label(Node *node)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyObject *key = PyLong_FromVoidPtr(node);
    if (key == NULL || PyDict_DelItem(g_labels, key) < 0)
        PyErr_WriteUnraisable((PyObject *)node);
    Py_XDECREF(key);
    PyErr_Restore(type, value, traceback);
}

/* Frees a node whose last reference is gone; its parents go on the stack. */
static void release(Node *node, FreeStack *s)
{
    PyObject_GC_UnTrack(node);
    if (node->flags & F_LABEL)
        forget_label(node);
    Py_DECREF(node->op);
    Node **parents = parents_of(node);
    for (uint32_t i = 0; i < node->n; i++)
        push_or_decref(s, parents[i]);
    if (node->flags & F_MANY)
        PyMem_Free(node->parents.many);
    if (node->flags & F_GRAD_VALUE)
        push_or_decref(s, node->grad.v);
    free_node(node);
}

static void Value_dealloc(Node *self)
{
    FreeStack s = {.top = 0, .size = 32};
    s.items = s.small;
    release(self, &s);
    while (s.top)
        release(s.items[--s.top], &s);   /* each held its last reference */
    if (s.items != s.small)
        PyMem_Free(s.items);
}

/* --- the Value type: construction and attributes ------------------------------------------- */

static int set_label(Node *self, PyObject *label);

static int refuse_while_busy(Node *self, const char *what)
{
    if (!(self->flags & F_BUSY))
        return 0;
    PyErr_Format(PyExc_RuntimeError,
                 "cannot change a Value's %s while backward() runs through it (from inside an "
                 "op's rule)", what);
    return -1;
}


static PyObject *Value_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"data", "label", NULL};
    PyObject *data_obj, *label = NULL;
    if (!configured())
        return NULL;
    double data;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:Value", names, &data_obj, &label))
        goto reference;
    if (label != NULL && !PyUnicode_Check(label))
        goto reference;
    if (IS_NODE(data_obj) || number_as_double(data_obj, &data) < 0)
        goto reference;
    Node *node = new_leaf(data);
    if (node != NULL && label != NULL && PyUnicode_GET_LENGTH(label) &&
        set_label(node, label) < 0)
        Py_CLEAR(node);
    return (PyObject *)node;
reference:
    /* let the reference check the arguments: it raises its own error (or gives the data) */
    PyErr_Clear();
    PyObject *checked = PyObject_Call(g_check_value, args, kwds);
    if (checked == NULL)
        return NULL;
    data = PyFloat_AsDouble(checked);
    Py_DECREF(checked);
    if (data == -1.0 && PyErr_Occurred())
        return NULL;
    node = new_leaf(data);
    if (node != NULL && label != NULL && PyUnicode_Check(label) && PyUnicode_GET_LENGTH(label) &&
        set_label(node, label) < 0)
        Py_CLEAR(node);
    return (PyObject *)node;
}

static PyObject *get_data(Node *self, void *closure) { return PyFloat_FromDouble(self->data); }

static int set_data(Node *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Value's data cannot be deleted");
        return -1;
    }
    double data;
    if (IS_NODE(value)) {
        data = NAN;   /* the reference's own error for a Value where a number belongs */
        if (number_as_double(value, &data) < 0)
            return -1;
    } else if (number_as_double(value, &data) < 0)
        return -1;
    self->data = data;
    return 0;
}

static PyObject *get_grad(Node *self, void *closure)
{
    if (self->flags & F_GRAD_VALUE)
        return Py_NewRef(self->grad.v);
    return PyFloat_FromDouble(self->grad.f);
}

static int set_grad(Node *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Value's grad cannot be deleted; set it to 0.0");
        return -1;
    }
    if (refuse_while_busy(self, "grad") < 0)
        return -1;
    Node *old = (self->flags & F_GRAD_VALUE) ? self->grad.v : NULL;
    if (IS_NODE(value)) {
        self->grad.v = (Node *)Py_NewRef(value);
        self->flags |= F_GRAD_VALUE;
        if (track_reachable(self) < 0) {
            Py_DECREF(value);
            self->flags &= ~F_GRAD_VALUE;
            self->grad.f = 0.0;
            if (old) {
                self->grad.v = old;
                self->flags |= F_GRAD_VALUE;
            }
            return -1;
        }
    } else {
        double grad;
        if (PyFloat_Check(value))
            grad = PyFloat_AS_DOUBLE(value);    /* a gradient may be inf or nan: store as is */
        else if (number_as_double(value, &grad) < 0)
            return -1;
        self->grad.f = grad;
        self->flags &= ~F_GRAD_VALUE;
    }
    Py_XDECREF(old);
    return 0;
}

static PyObject *get_label(Node *self, void *closure)
{
    if (!(self->flags & F_LABEL))
        return Py_NewRef(g_empty);
    PyObject *key = PyLong_FromVoidPtr(self);
    if (key == NULL)
        return NULL;
    PyObject *label = PyDict_GetItemWithError(g_labels, key);
    Py_DECREF(key);
    if (label == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(g_empty);
    return Py_NewRef(label);
}

static int set_label(Node *self, PyObject *label)
{
    PyObject *key = PyLong_FromVoidPtr(self);
    if (key == NULL)
        return -1;
    int status;
    if (PyUnicode_CheckExact(label) && PyUnicode_GET_LENGTH(label) == 0) {
        status = (self->flags & F_LABEL) ? PyDict_DelItem(g_labels, key) : 0;
        self->flags &= ~F_LABEL;
    } else {
        status = PyDict_SetItem(g_labels, key, label);
        if (status == 0)
            self->flags |= F_LABEL;
    }
    Py_DECREF(key);
    return status;
}

static int set_label_attr(Node *self, PyObject *label, void *closure)
{
    if (label == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Value's label cannot be deleted; set it to ''");
        return -1;
    }
    return set_label(self, label);   /* as the reference's slot: only Value() checks it */
}

static PyObject *get_op_name(Node *self, void *closure)
{
    return PyObject_GetAttr(self->op, g_str_name);
}

static PyObject *get_op(Node *self, void *closure) { return Py_NewRef(self->op); }

static int op_kind(PyObject *op, uint32_t n)
{
    const Family *family;
    int kind = resolve(op, &family);
    if (kind < 0)
        return -1;
    if (!PyObject_TypeCheck(op, (PyTypeObject *)g_op_type))
        kind = K_PYTHON;
    return fit_kind(kind, n);
}

/* `_op` and `_prev` are assigned by autograd.value.copy_graph, which builds a copy node by node */
static int set_op(Node *self, PyObject *op, void *closure)
{
    if (op == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Value's _op cannot be deleted");
        return -1;
    }
    if (!configured() || refuse_while_busy(self, "op") < 0)
        return -1;
    int kind = op_kind(op, self->n);
    if (kind < 0)
        return -1;
    Py_SETREF(self->op, Py_NewRef(op));
    self->kind = (uint16_t)kind;
    return 0;
}

static int set_prev(Node *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Value's _prev cannot be deleted");
        return -1;
    }
    if (!configured() || refuse_while_busy(self, "parents") < 0)
        return -1;
    if (!PyTuple_Check(value)) {
        PyErr_Format(PyExc_TypeError, "_prev must be a tuple of Values, got %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(value);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!IS_NODE(PyTuple_GET_ITEM(value, i))) {
            PyErr_Format(PyExc_TypeError, "_prev must be a tuple of Values, got a %.100s in it",
                         Py_TYPE(PyTuple_GET_ITEM(value, i))->tp_name);
            return -1;
        }
    if ((size_t)n > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a node can have at most 2**32 - 1 inputs");
        return -1;
    }
    int kind = op_kind(self->op, (uint32_t)n);
    if (kind < 0)
        return -1;
    Node **many = NULL;
    if (n > 2 && (many = PyMem_Malloc(n * sizeof(Node *))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* the old parents are released only once the node holds the new ones */
    Node *old_two[2] = {self->parents.two[0], self->parents.two[1]};
    Node **old = (self->flags & F_MANY) ? self->parents.many : old_two;
    uint32_t old_n = self->n;
    int old_many = self->flags & F_MANY;
    Node **slots = many ? many : self->parents.two;
    if (many) {
        self->parents.many = many;
        self->flags |= F_MANY;
    } else {
        self->flags &= ~F_MANY;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        slots[i] = (Node *)Py_NewRef(PyTuple_GET_ITEM(value, i));
    self->n = (uint32_t)n;
    self->kind = (uint16_t)kind;
    for (uint32_t i = 0; i < old_n; i++)
        Py_DECREF(old[i]);
    if (old_many)
        PyMem_Free(old);
    return 0;
}

static PyObject *get_parents(Node *self, void *closure)
{
    PyObject *tuple = PyTuple_New(self->n);
    if (tuple == NULL)
        return NULL;
    Node **parents = parents_of(self);
    for (uint32_t i = 0; i < self->n; i++)
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(parents[i]));
    return tuple;
}

static PyObject *get_is_leaf(Node *self, void *closure) { return PyBool_FromLong(self->n == 0); }

static PyGetSetDef Value_getset[] = {
    {"data", (getter)get_data, (setter)set_data, "The number this Value holds.", NULL},
    {"grad", (getter)get_grad, (setter)set_grad,
     "d(output)/d(this Value) after backward(); a Value after backward(create_graph=True).", NULL},
    {"label", (getter)get_label, (setter)set_label_attr,
     "A name for drawings and reprs, e.g. Value(1.0, label=\"w1\").", NULL},
    {"op", (getter)get_op_name, NULL, "The name of the op that computed this Value.", NULL},
    {"_op", (getter)get_op, (setter)set_op, "The Op that computed this Value.", NULL},
    {"parents", (getter)get_parents, NULL, "The inputs this Value was computed from.", NULL},
    {"_prev", (getter)get_parents, (setter)set_prev, "The inputs this Value was computed from.",
     NULL},
    {"is_leaf", (getter)get_is_leaf, NULL, "True for a Value with no parents.", NULL},
    {NULL},
};

/* --- arithmetic ------------------------------------------------------------------------------- */

static PyObject *nb_add(PyObject *a, PyObject *b) { return binary(K_ADD, a, b); }
static PyObject *nb_sub(PyObject *a, PyObject *b) { return binary(K_SUB, a, b); }
static PyObject *nb_mul(PyObject *a, PyObject *b) { return binary(K_MUL, a, b); }
static PyObject *nb_div(PyObject *a, PyObject *b) { return binary(K_DIV, a, b); }
static PyObject *nb_neg(Node *x) { return unary(x, K_NEG); }
static PyObject *nb_abs(Node *x) { return unary(x, K_ABS); }
static PyObject *nb_float(Node *x) { return PyFloat_FromDouble(x->data); }

/* a few exponents' power ops, so `x ** 2` skips the call to ops.power */
#define POWER_CACHE 8
static struct { double p; PyObject *op; } g_power_cache[POWER_CACHE];
static int g_power_next;

static PyObject *power_op(double p)
{
    for (int i = 0; i < POWER_CACHE; i++)
        if (g_power_cache[i].op && g_power_cache[i].p == p && signbit(g_power_cache[i].p) == signbit(p))
            return g_power_cache[i].op;
    PyObject *op = PyObject_CallFunction(g_power, "d", p);
    if (op == NULL)
        return NULL;
    Py_XSETREF(g_power_cache[g_power_next].op, op);
    g_power_cache[g_power_next].p = p;
    g_power_next = (g_power_next + 1) % POWER_CACHE;
    return op;
}

static PyObject *apply_op(PyObject *op, Py_ssize_t n, PyObject *const *inputs);

static PyObject *nb_pow(PyObject *a, PyObject *b, PyObject *mod)
{
    if (mod != Py_None)
        Py_RETURN_NOTIMPLEMENTED;
    if (!configured())
        return NULL;
    if (IS_NODE(a) && !IS_NODE(b)) {   /* Value ** number: the op power(p) */
        double p;
        if (number_as_double(b, &p) < 0)
            return NULL;
        PyObject *op = power_op(p);
        return op == NULL ? NULL : apply_op(op, 1, &a);
    }
    return binary(K_POW, a, b);
}

static PyObject *Value_richcompare(Node *self, PyObject *other, int op)
{
    if (op == Py_EQ || op == Py_NE)
        Py_RETURN_NOTIMPLEMENTED;      /* identity, as for any object */
    double b;
    if (IS_NODE(other))
        b = ((Node *)other)->data;
    else if (PyFloat_CheckExact(other))
        b = PyFloat_AS_DOUBLE(other);
    else {
        PyObject *data = PyFloat_FromDouble(self->data);
        if (data == NULL)
            return NULL;
        PyObject *result = PyObject_RichCompare(data, other, op);
        Py_DECREF(data);
        return result;
    }
    Py_RETURN_RICHCOMPARE(self->data, b, op);
}

static Py_hash_t Value_hash(PyObject *self)
{
    size_t y = (size_t)self;
    y = (y >> 4) | (y << (8 * sizeof(void *) - 4));   /* as CPython hashes a pointer */
    Py_hash_t x = (Py_hash_t)y;
    return x == -1 ? -2 : x;
}

static PyObject *Value_repr(Node *self)
{
    PyObject *data = get_data(self, NULL), *grad = get_grad(self, NULL);
    PyObject *label = get_label(self, NULL), *result = NULL;
    int named = label ? PyObject_IsTrue(label) : -1;
    if (data && grad && label && named >= 0) {
        if (named)
            result = PyUnicode_FromFormat("Value(data=%R, grad=%R, label=%R)", data, grad, label);
        else
            result = PyUnicode_FromFormat("Value(data=%R, grad=%R)", data, grad);
    }
    Py_XDECREF(data);
    Py_XDECREF(grad);
    Py_XDECREF(label);
    return result;
}

static PyNumberMethods Value_as_number = {
    .nb_add = nb_add,
    .nb_subtract = nb_sub,
    .nb_multiply = nb_mul,
    .nb_true_divide = nb_div,
    .nb_power = nb_pow,
    .nb_negative = (unaryfunc)nb_neg,
    .nb_absolute = (unaryfunc)nb_abs,
    .nb_float = (unaryfunc)nb_float,
};

/* --- methods: the table's unary ops ----------------------------------------------------------- */

#define UNARY_METHOD(name, KIND)                                                         \
    static PyObject *Value_##name(Node *self, PyObject *unused) { return unary(self, KIND); }
UNARY_METHOD(exp, K_EXP)
UNARY_METHOD(log, K_LOG)
UNARY_METHOD(sqrt, K_SQRT)
UNARY_METHOD(sin, K_SIN)
UNARY_METHOD(cos, K_COS)
UNARY_METHOD(tanh, K_TANH)
UNARY_METHOD(sigmoid, K_SIGMOID)
UNARY_METHOD(softplus, K_SOFTPLUS)
UNARY_METHOD(relu, K_RELU)
UNARY_METHOD(gelu, K_GELU)
UNARY_METHOD(erf, K_ERF)
UNARY_METHOD(abs, K_ABS)

static PyObject *Value_leaky_relu(Node *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    static const char *const names[] = {"slope"};
    PyObject *slope = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1 || (nkw == 1 && PyUnicode_CompareWithASCIIString(
                                            PyTuple_GET_ITEM(kwnames, 0), names[0]) != 0)) {
        PyErr_SetString(PyExc_TypeError, "leaky_relu() takes one argument, slope");
        return NULL;
    }
    if (nargs + nkw == 1)
        slope = args[0];
    PyObject *op = slope ? PyObject_CallOneArg(g_leaky, slope)
                         : PyObject_CallFunction(g_leaky, "d", 0.01);
    if (op == NULL)
        return NULL;
    PyObject *self_obj = (PyObject *)self;
    PyObject *result = apply_op(op, 1, &self_obj);
    Py_DECREF(op);
    return result;
}

static PyObject *Value_item(Node *self, PyObject *unused) { return PyFloat_FromDouble(self->data); }

static PyObject *Value_detach(Node *self, PyObject *unused) { return (PyObject *)new_leaf(self->data); }

static PyObject *Value_reduce(Node *self, PyObject *unused)
{
    if (!configured())
        return NULL;
    return PyObject_CallOneArg(g_reduce, (PyObject *)self);
}

static PyObject *Value_deepcopy(Node *self, PyObject *memo)
{
    if (!configured())
        return NULL;
    return PyObject_CallFunctionObjArgs(g_deepcopy, (PyObject *)self, memo, NULL);
}

/* --- the first-order backward walk ----------------------------------------------------------- */

typedef struct {
    /* one array for two lists: the order from the front (interior nodes, each after its parents,
     * root last) and the depth-first stack from the back (stack entry i is items[cap - 1 - i]);
     * as the sort goes on the stack shrinks while the order grows */
    Node **items;
    double *saved;     /* saved[i]: the grad of order[i] before the walk */
    Py_ssize_t cap, n_order, top;
    Node **leaves;     /* the leaves reached, each once */
    double *saved_leaves;
    Py_ssize_t n_leaves, cap_leaves;
    int value_grads;   /* a node holds a Value grad (from create_graph) */
    int python_ops;    /* a node's op runs through Python */
} Walk;

#define ORDER(w, i) ((w)->items[i])
#define STACK(w, i) ((w)->items[(w)->cap - 1 - (i)])

/* Room for `extra` more entries in the order and the stack together. */
static int room(Walk *w, Py_ssize_t extra)
{
    Py_ssize_t need = w->n_order + w->top + extra;
    if (need <= w->cap)
        return 0;
    Py_ssize_t cap = w->cap ? w->cap * 2 : 256;
    while (cap < need)
        cap *= 2;
    Node **items = PyMem_Realloc(w->items, cap * sizeof(Node *));
    if (items == NULL)
        return PyErr_NoMemory(), -1;
    memmove(items + cap - w->top, items + w->cap - w->top, w->top * sizeof(Node *));
    w->items = items;
    w->cap = cap;
    double *saved = PyMem_Realloc(w->saved, cap * sizeof(double));
    if (saved == NULL)
        return PyErr_NoMemory(), -1;
    w->saved = saved;
    return 0;
}

static int room_for_leaves(Walk *w, Py_ssize_t extra)
{
    Py_ssize_t need = w->n_leaves + extra;
    if (need <= w->cap_leaves)
        return 0;
    Py_ssize_t cap = w->cap_leaves ? w->cap_leaves * 2 : 64;
    while (cap < need)
        cap *= 2;
    Node **leaves = PyMem_Realloc(w->leaves, cap * sizeof(Node *));
    if (leaves == NULL)
        return PyErr_NoMemory(), -1;
    w->leaves = leaves;
    double *saved = PyMem_Realloc(w->saved_leaves, cap * sizeof(double));
    if (saved == NULL)
        return PyErr_NoMemory(), -1;
    w->saved_leaves = saved;
    w->cap_leaves = cap;
    return 0;
}

static void walk_free(Walk *w)
{
    PyMem_Free(w->items);
    PyMem_Free(w->saved);
    PyMem_Free(w->leaves);
    PyMem_Free(w->saved_leaves);
}

/* A node's grad is saved and zeroed as it joins the walk (a Value grad is left alone: the
 * reference will handle that walk). */
static inline void save(Walk *w, Node *node, double *saved)
{
    if (node->flags & F_GRAD_VALUE) {
        w->value_grads = 1;
        *saved = 0.0;
        return;
    }
    *saved = node->grad.f;
    node->grad.f = -0.0;   /* the exact additive identity: -0.0 + x is x, even for x = -0.0 */
}

/* Puts every saved grad back and clears every mark (after a failure, or to hand over). */
static void walk_undo(Walk *w)
{
    for (Py_ssize_t i = 0; i < w->n_order; i++) {
        Node *node = ORDER(w, i);
        node->flags &= ~F_WALK;
        if (!(node->flags & F_GRAD_VALUE))
            node->grad.f = w->saved[i];
    }
    for (Py_ssize_t i = 0; i < w->n_leaves; i++) {
        Node *node = w->leaves[i];
        node->flags &= ~F_WALK;
        if (!(node->flags & F_GRAD_VALUE))
            node->grad.f = w->saved_leaves[i];
    }
    for (Py_ssize_t i = 0; i < w->top; i++)   /* seen, not finished: grads not touched yet */
        STACK(w, i)->flags &= ~F_SEEN;
    w->top = 0;
}

/* The same depth-first order as engine.topological_order (parents pushed in order, the last
 * one expanded first), with marks in the node instead of a set: F_SEEN once expanded, F_DONE
 * once listed. A node stays on the stack while its parents are sorted and is listed when it
 * is on top again. Every node's grad is saved and zeroed on the way. The marks stay set until
 * the walk has propagated the node, so no Python code may run in between (see `backward`). */
static int topological_order(Node *root, Walk *w)
{
    if (root->n == 0) {
        if (room_for_leaves(w, 1) < 0)
            return -1;
        if (root->flags & F_BUSY)
            goto busy;
        root->flags |= F_SEEN;
        save(w, root, &w->saved_leaves[0]);
        w->leaves[w->n_leaves++] = root;
        return 0;
    }
    if (room(w, 1) < 0)
        return -1;
    STACK(w, w->top++) = root;
    while (w->top) {
        Node *node = STACK(w, w->top - 1);
        if (node->flags & F_DONE) {          /* pushed twice, listed already */
            w->top--;
            continue;
        }
        if (node->flags & F_SEEN) {          /* back on top: its parents are listed */
            w->top--;
            node->flags |= F_DONE;
            save(w, node, &w->saved[w->n_order]);
            ORDER(w, w->n_order++) = node;
            continue;
        }
        if (room(w, node->n) < 0 || room_for_leaves(w, node->n) < 0)
            goto fail;
        if (node->flags & F_BUSY)
            goto busy;
        node->flags |= F_SEEN;
        w->python_ops |= !rule_in_c(node->kind);
        Node **parents = parents_of(node);
        for (uint32_t i = 0; i < node->n; i++) {
            Node *parent = parents[i];
            if (parent->flags & (F_SEEN | F_DONE))
                continue;
            if (parent->n)
                STACK(w, w->top++) = parent;
            else {
                if (parent->flags & F_BUSY)
                    goto busy;
                parent->flags |= F_SEEN;
                save(w, parent, &w->saved_leaves[w->n_leaves]);
                w->leaves[w->n_leaves++] = parent;
            }
        }
    }
    return 0;
busy:
    PyErr_SetString(PyExc_RuntimeError,
                    "backward() cannot run through Values that another backward() is using "
                    "(called from inside an op's rule)");
fail:
    walk_undo(w);
    return -1;
}

/* Adds grad * local to a parent's grad, as the reference walk does: a local derivative of
 * exactly 0 adds nothing (a relu that is off), nor does a gradient of exactly 0 (a node below
 * it), and F_GOT notes that something was added. A gradient of 0 with a non-finite local
 * derivative still adds (a NaN), so that the reference walk takes over and decides: its rule
 * may raise there (sqrt at 0). */
static inline void add(Node *parent, double grad, double local)
{
    if (local != 0.0 && (grad != 0.0 || !isfinite(local))) {
        parent->grad.f += grad * local;
        parent->flags |= F_GOT;
    }
}

/* Calls a user's op.partials(out, [inputs' data]) and adds grad * partial into each parent. */
static int python_partials(Node *node)
{
    Node **parents = parents_of(node);
    PyObject *datas = PyList_New(node->n);
    if (datas == NULL)
        return -1;
    for (uint32_t i = 0; i < node->n; i++) {
        PyObject *d = PyFloat_FromDouble(parents[i]->data);
        if (d == NULL) {
            Py_DECREF(datas);
            return -1;
        }
        PyList_SET_ITEM(datas, i, d);
    }
    PyObject *out = PyFloat_FromDouble(node->data);
    PyObject *partials = out ? PyObject_CallMethodObjArgs(node->op, g_str_partials, out, datas,
                                                          NULL)
                             : NULL;
    Py_XDECREF(out);
    Py_DECREF(datas);
    if (partials == NULL)
        return -1;
    PyObject *seq = PySequence_Fast(partials, "partials must return a sequence");
    Py_DECREF(partials);
    if (seq == NULL)
        return -1;
    int status = -1;
    if (PySequence_Fast_GET_SIZE(seq) != (Py_ssize_t)node->n) {
        PyErr_SetString(PyExc_ValueError, "wrong number of partials");   /* reference decides */
        goto done;
    }
    double g = node->grad.f;
    for (uint32_t i = 0; i < node->n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        double d = PyFloat_AsDouble(item);
        if (d == -1.0 && PyErr_Occurred())
            goto done;
        add(parents[i], g, d);
    }
    status = 0;
done:
    Py_DECREF(seq);
    return status;
}

/* Adds each parent's share of node's gradient: grad * the local derivative. */
static int propagate(Node *node)
{
    double g = node->grad.f;
    Node **p = parents_of(node);
    switch (node->kind) {
    case K_ADD: add(p[0], g, 1.0); add(p[1], g, 1.0); return 0;
    case K_SUB: add(p[0], g, 1.0); add(p[1], g, -1.0); return 0;
    case K_MUL: {
        double x = p[0]->data, y = p[1]->data;
        add(p[0], g, y);
        add(p[1], g, x);
        return 0;
    }
    case K_DIV: {
        double y = p[1]->data;
        add(p[0], g, (1.0 / y));
        add(p[1], g, (-node->data / y));
        return 0;
    }
    case K_POW: {
        double x = p[0]->data, y = p[1]->data;
        add(p[0], g, (y * pow(x, y - 1.0)));
        add(p[1], g, (node->data * log(x)));
        return 0;
    }
    case K_SUM:
        for (uint32_t i = 0; i < node->n; i++)
            add(p[i], g, 1.0);
        return 0;
    case K_DOT: {   /* in the parents' order, as the reference adds: the xs, then the ys */
        uint32_t h = node->n / 2;
        for (uint32_t i = 0; i < h; i++)
            add(p[i], g, p[h + i]->data);
        for (uint32_t i = 0; i < h; i++)
            add(p[h + i], g, p[i]->data);
        return 0;
    }
    case K_AFFINE:
    case K_ACTIVATED: {
        uint32_t h = node->n / 2;
        double slope = 1.0;
        if (node->kind == K_ACTIVATED) {
            const Family *f = find_family(node->op);
            if (f == NULL)
                return python_partials(node);
            Sum z = {p[node->n - 1]->data, 0.0};
            for (uint32_t i = 0; i < h; i++)
                sum_add(&z, p[i]->data * p[h + i]->data);
            slope = unary_partial(f->act_kind, f->parameter, node->data, sum_total(&z));
            for (uint32_t i = 0; i < h; i++)
                add(p[i], g, p[h + i]->data * slope);
            for (uint32_t i = 0; i < h; i++)
                add(p[h + i], g, p[i]->data * slope);
            add(p[node->n - 1], g, slope);
            return 0;
        }
        for (uint32_t i = 0; i < h; i++)
            add(p[i], g, p[h + i]->data);
        for (uint32_t i = 0; i < h; i++)
            add(p[h + i], g, p[i]->data);
        add(p[node->n - 1], g, 1.0);
        return 0;
    }
    case K_POWER:
    case K_LEAKY: {
        const Family *f = find_family(node->op);
        if (f == NULL)
            return python_partials(node);
        add(p[0], g, unary_partial(node->kind, f->parameter, node->data, p[0]->data));
        return 0;
    }
    default:
        if (is_unary_kind(node->kind)) {
            add(p[0], g, unary_partial(node->kind, 0.0, node->data, p[0]->data));
            return 0;
        }
        return python_partials(node);
    }
}

/* A walk that runs Python code (a user's op) must expect anything of it: another walk, even
 * on the same nodes, or the graph dropped or rewired. So before the first Python call the marks
 * are cleared, every node of the walk is held by a reference, and marked busy: its parents, op
 * and Value grad cannot be changed until the walk is done (hold(w, 0)). */
static void hold(Walk *w, int on)
{
    for (Py_ssize_t k = 0; k < w->n_order + w->n_leaves; k++) {
        Node *node = k < w->n_order ? ORDER(w, k) : w->leaves[k - w->n_order];
        if (on) {
            node->flags = (node->flags & ~(F_SEEN | F_DONE)) | F_BUSY;   /* F_GOT stays */
            Py_INCREF(node);
        } else {
            node->flags &= ~F_BUSY;
        }
    }
    if (!on)   /* released last: dropping these may free nodes */
        for (Py_ssize_t k = 0; k < w->n_order + w->n_leaves; k++)
            Py_DECREF(k < w->n_order ? ORDER(w, k) : w->leaves[k - w->n_order]);
}

/* Python's reference walk, for what this one does not decide (and for its error messages). */
static PyObject *reference_backward(Node *root, int create_graph)
{
    return PyObject_CallFunction(g_backward, "OO", (PyObject *)root,
                                 create_graph ? Py_True : Py_False);
}

/* backward(): all or nothing. Every grad in the graph is saved and computed in place from zero,
 * leaves then get old + new; on any failure the saved grads are put back and the reference walk
 * runs instead, to raise its own error (or to decide, when this walk cannot). */
static PyObject *backward(Node *root)
{
    Walk w = {0};
    if (topological_order(root, &w) < 0) {
        walk_free(&w);
        return NULL;
    }
    if (w.value_grads) {   /* grads from create_graph: the reference knows how to add them */
        walk_undo(&w);
        walk_free(&w);
        return reference_backward(root, 0);
    }
    if (w.python_ops)      /* Python code will run: see hold() */
        hold(&w, 1);
    root->grad.f = 1.0;
    root->flags |= F_GOT;
    int failed = 0, interrupted = 0;
    Py_ssize_t i = w.n_order - 1;
    for (; i >= 0; i--) {
        Node *node = ORDER(&w, i);
        if (!(node->flags & F_GOT))
            node->grad.f = 0.0;   /* nothing reached it (only zero derivatives): +0.0 */
        node->flags &= ~F_WALK;
        if (!isfinite(node->grad.f)) {   /* it is final now: a non-finite one is for the reference */
            failed = 1;
            break;
        }
        if (propagate(node) < 0) {
            failed = 1;
            /* an interrupt is the user's; any other error the reference walk will name */
            interrupted = !PyErr_ExceptionMatches(PyExc_Exception);
            break;
        }
    }
    for (Py_ssize_t j = 0; j < w.n_leaves && !failed; j++)   /* what each leaf got */
        failed = (w.leaves[j]->flags & F_GOT) && !isfinite(w.leaves[j]->grad.f);
    if (failed)
        walk_undo(&w);
    else
        for (Py_ssize_t j = 0; j < w.n_leaves; j++) {   /* leaves: old + what they got */
            Node *leaf = w.leaves[j];
            double old = w.saved_leaves[j];
            if (!(leaf->flags & F_GOT))
                leaf->grad.f = old;   /* nothing reached it: untouched */
            else if (old != 0.0)
                leaf->grad.f = old + leaf->grad.f;
            leaf->flags &= ~F_WALK;
        }
    if (w.python_ops)
        hold(&w, 0);
    walk_free(&w);
    if (!failed)
        Py_RETURN_NONE;
    if (interrupted)
        return NULL;
    PyErr_Clear();
    return reference_backward(root, 0);
}

static PyObject *Value_backward(Node *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    PyObject *create_graph = Py_False;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1 || (nkw == 1 && PyUnicode_CompareWithASCIIString(
                                            PyTuple_GET_ITEM(kwnames, 0), "create_graph") != 0)) {
        PyErr_SetString(PyExc_TypeError, "backward() takes one optional argument, create_graph");
        return NULL;
    }
    if (nargs + nkw == 1)
        create_graph = args[0];
    if (!configured())
        return NULL;
    int deep = PyObject_IsTrue(create_graph);
    if (deep < 0)
        return NULL;
    if (deep || self->kind == K_UNTRACKED)
        return reference_backward(self, deep);
    return backward(self);
}

static PyMethodDef Value_methods[] = {
    {"exp", (PyCFunction)Value_exp, METH_NOARGS, "e ** self. Value(0).exp().data == 1.0"},
    {"log", (PyCFunction)Value_log, METH_NOARGS, "Natural log. Value(1).log().data == 0.0"},
    {"sqrt", (PyCFunction)Value_sqrt, METH_NOARGS, "Square root. Value(4).sqrt().data == 2.0"},
    {"sin", (PyCFunction)Value_sin, METH_NOARGS, "Sine. Value(0).sin().data == 0.0"},
    {"cos", (PyCFunction)Value_cos, METH_NOARGS, "Cosine. Value(0).cos().data == 1.0"},
    {"tanh", (PyCFunction)Value_tanh, METH_NOARGS, "Hyperbolic tangent."},
    {"sigmoid", (PyCFunction)Value_sigmoid, METH_NOARGS, "1 / (1 + e**-x), stable."},
    {"softplus", (PyCFunction)Value_softplus, METH_NOARGS, "log(1 + e**x), stable."},
    {"relu", (PyCFunction)Value_relu, METH_NOARGS, "max(x, 0)."},
    {"leaky_relu", (PyCFunction)(void (*)(void))Value_leaky_relu, METH_FASTCALL | METH_KEYWORDS,
     "x if x > 0 else slope * x (slope=0.01)."},
    {"gelu", (PyCFunction)Value_gelu, METH_NOARGS, "x Phi(x), the exact (erf) form."},
    {"erf", (PyCFunction)Value_erf, METH_NOARGS, "The error function."},
    {"abs", (PyCFunction)Value_abs, METH_NOARGS, "|x|; its derivative at 0 is taken as 0."},
    {"item", (PyCFunction)Value_item, METH_NOARGS, "The plain float, as in PyTorch."},
    {"detach", (PyCFunction)Value_detach, METH_NOARGS, "A new leaf with the same data."},
    {"backward", (PyCFunction)(void (*)(void))Value_backward, METH_FASTCALL | METH_KEYWORDS,
     "Backpropagate from this Value: fill .grad of everything it was computed from."},
    {"__reduce__", (PyCFunction)Value_reduce, METH_NOARGS,
     "A leaf pickles with its data, grad and label (see autograd.value.pickle_leaf)."},
    {"__deepcopy__", (PyCFunction)Value_deepcopy, METH_O,
     "A copy of the graph behind this Value, of any depth (see autograd.value.copy_graph)."},
    {NULL},
};

PyDoc_STRVAR(Value_doc,
"Value(data, label='')\n--\n\n"
"A scalar in a computation graph: data, its gradient grad, and how it was made\n"
"(the compiled twin of autograd/value.py; see there for the full documentation).\n\n"
">>> a, b = Value(2.0), Value(-3.0)\n>>> c = a * b\n>>> c.backward()\n>>> a.grad, b.grad\n"
"(-3.0, 2.0)\n");

static PyTypeObject ValueType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "autograd.value.Value",
    .tp_basicsize = sizeof(Node),
    .tp_dealloc = (destructor)Value_dealloc,
    .tp_repr = (reprfunc)Value_repr,
    .tp_as_number = &Value_as_number,
    .tp_hash = Value_hash,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = Value_doc,
    .tp_traverse = (traverseproc)Value_traverse,
    .tp_clear = (inquiry)Value_clear,
    .tp_richcompare = (richcmpfunc)Value_richcompare,
    .tp_methods = Value_methods,
    .tp_getset = Value_getset,
    .tp_new = Value_new,
    .tp_free = (freefunc)free_node,
};

/* --- apply ------------------------------------------------------------------------------------ */

static PyObject *apply_op(PyObject *op, Py_ssize_t n, PyObject *const *inputs)
{
    const Family *family;
    int kind = resolve(op, &family);
    if (kind < 0)
        return NULL;
    if (kind == K_LEAF || kind == K_UNTRACKED || !PyObject_TypeCheck(op, (PyTypeObject *)g_op_type)) {
        kind = K_PYTHON;   /* the reference says what is wrong (or what it means) */
        family = NULL;
    }
    Node *small[SMALL], **nodes = small;
    if (n > SMALL && (nodes = PyMem_Malloc(n * sizeof(Node *))) == NULL)
        return PyErr_NoMemory();
    Py_ssize_t lifted = 0;
    PyObject *result = NULL;
    for (; lifted < n; lifted++)
        if ((nodes[lifted] = lift(inputs[lifted])) == NULL)
            goto done;
    result = record(op, kind, family, n, nodes);
done:
    for (Py_ssize_t i = 0; i < lifted; i++)
        Py_DECREF(nodes[i]);
    if (nodes != small)
        PyMem_Free(nodes);
    return result;
}

static PyObject *core_apply(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "apply() needs an op and its inputs: apply(op, *inputs)");
        return NULL;
    }
    if (!configured())
        return NULL;
    return apply_op(args[0], nargs - 1, args + 1);
}

static PyObject *core_is_grad_enabled(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(!grad_disabled);
}

static PyObject *core_set_grad_enabled(PyObject *module, PyObject *flag)
{
    int enabled = PyObject_IsTrue(flag);
    if (enabled < 0)
        return NULL;
    int previous = !grad_disabled;
    grad_disabled = !enabled;
    return PyBool_FromLong(previous);
}

static PyObject *core_is_tracked(PyObject *module, PyObject *value)
{
    return PyBool_FromLong(PyObject_GC_IsTracked(value));
}

static int take(PyObject *from, const char *name, PyObject **slot)
{
    PyObject *value = PyObject_GetAttrString(from, name);
    if (value == NULL)
        return -1;
    Py_XSETREF(*slot, value);
    return 0;
}

static int take_double(PyObject *from, const char *name, double *slot)
{
    PyObject *value = PyObject_GetAttrString(from, name);
    if (value == NULL)
        return -1;
    *slot = PyFloat_AsDouble(value);
    Py_DECREF(value);
    return (*slot == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *core_configure(PyObject *module, PyObject *args)
{
    PyObject *ops, *glue;
    if (!PyArg_ParseTuple(args, "OO:_configure", &ops, &glue))
        return NULL;
    for (int k = 0; k < K_SINGLETONS; k++)
        if (take(ops, SINGLETON_NAMES[k], &g_ops[k]) < 0)
            return NULL;
    if (take(ops, "Op", &g_op_type) < 0 || take(ops, "power", &g_power) < 0 ||
        take(ops, "leaky_relu", &g_leaky) < 0 || take(glue, "as_float", &g_as_float) < 0 ||
        take(glue, "check_value", &g_check_value) < 0 || take(glue, "forward", &g_forward) < 0 ||
        take(glue, "backward", &g_backward) < 0 || take(glue, "reduce", &g_reduce) < 0 ||
        take(glue, "deepcopy", &g_deepcopy) < 0 ||
        take_double(ops, "SQRT1_2", &SQRT1_2) < 0 || take_double(ops, "SQRT2", &SQRT2) < 0 ||
        take_double(ops, "INV_SQRT_2PI", &INV_SQRT_2PI) < 0 ||
        take_double(ops, "TWO_OVER_SQRT_PI", &TWO_OVER_SQRT_PI) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef core_methods[] = {
    {"apply", (PyCFunction)(void (*)(void))core_apply, METH_FASTCALL,
     "apply(op, *inputs)\n--\n\n"
     "Compute op on inputs (Values or numbers) and record the result as a graph node.\n\n"
     ">>> from autograd import Value, apply, ops\n>>> apply(ops.MUL, Value(2.0), 3).data\n6.0\n"},
    {"is_grad_enabled", core_is_grad_enabled, METH_NOARGS,
     "Whether operations on Values record a graph in this thread."},
    {"set_grad_enabled", core_set_grad_enabled, METH_O,
     "Set graph recording for this thread; returns the previous setting."},
    {"_is_tracked", core_is_tracked, METH_O, "Whether the cycle collector tracks this object."},
    {"_configure", core_configure, METH_VARARGS,
     "_configure(ops, glue): the op table and the reference functions (autograd/_compiled.py)."},
    {NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "autograd._core",
    "The compiled twin of autograd.value (see autograd/_compiled.py).", -1, core_methods,
};

PyMODINIT_FUNC PyInit__core(void)
{
    if (PyType_Ready(&ValueType) < 0)
        return NULL;
    g_labels = PyDict_New();
    g_empty = PyUnicode_FromString("");
    g_str_compute = PyUnicode_InternFromString("compute");
    g_str_partials = PyUnicode_InternFromString("partials");
    g_str_name = PyUnicode_InternFromString("name");
    g_str_family = PyUnicode_InternFromString("family");
    g_str_parameter = PyUnicode_InternFromString("parameter");
    g_str_activation = PyUnicode_InternFromString("activation");
    if (!g_labels || !g_empty || !g_str_compute || !g_str_partials || !g_str_name ||
        !g_str_family || !g_str_parameter || !g_str_activation)
        return NULL;
    PyObject *module = PyModule_Create(&core_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&ValueType);
    if (PyModule_AddObject(module, "Value", (PyObject *)&ValueType) < 0) {
        Py_DECREF(&ValueType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
