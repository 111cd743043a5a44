/* The compiled twin of autograd/value.py and autograd/engine.py's first-order walk, in C.
 *
 * What lives here: the node (data, grad, label, op, parents), its arithmetic, `apply`, the
 * grad-mode flag (one per thread) and the first-order backward walk; for autograd.compile
 * (autograd/recording.py), the recording flag (one per thread) and the refusal of a Value's
 * number while it is on, the bulk transfer (read_floats, write_floats) and `Program`, the
 * replay of a recorded tape. Everything else -- the op table, create_graph, the functional
 * API, gradcheck, drawing, the recorder -- stays in Python and reads nodes through
 * `data grad label _op _prev`. docs/compiled-core.md maps each Python function to its twin
 * here; the twins carry the same names where there is one (apply, compute,
 * topological_order, walk, as_float, read_floats, write_floats; Program for PyProgram).
 *
 * One source of truth stays the op table (autograd/ops.py): `_configure(ops, reference)`, the
 * one call that sets this file up, binds each row of ROWS (an op's forward and derivative side
 * by side) to the op of ops.OPS with its name; a family member (power(p), leaky_relu(slope), a
 * fused neuron) is recognised by `op.native`, which only ops.py's families set. Any other Op (a
 * user's, and logsumexp) runs through its Python `compute` and `partials`. Whenever something
 * unusual happens -- a result or gradient that is not finite, an input that is not a plain float
 * or int, a wrong number of inputs -- this file does not decide: it calls the reference's own
 * functions (autograd.value._REFERENCE), so errors and their messages are the reference's.
 *
 * Memory: a node is 80 bytes with the collector's header (PyObject_GC_New). It is a GC type but
 * not tracked, because parents only point backwards and cannot form a cycle; a node that may sit
 * on one (a Value grad from create_graph, a user's op that may hold anything) is tracked with
 * everything it reaches. Labels are rare, so they live in a side dict keyed by the node's
 * address. Freeing a long chain releases parents through Py_DECREF from an explicit stack, never
 * by recursion. The state is one per process: sub-interpreters get the reference instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* --- op kinds: the rows of the op table this file computes (see ROWS below) ----------------- */

enum {
    K_LEAF, K_UNTRACKED,
    K_ADD, K_SUB, K_MUL, K_DIV, K_POW,
    K_NEG, K_EXP, K_LOG, K_SQRT, K_SIN, K_COS, K_TANH, K_SIGMOID, K_SOFTPLUS, K_ERF, K_GELU,
    K_RELU, K_ABS, K_IDENTITY,
    K_SUM, K_DOT, K_AFFINE,
    K_TAKE, K_SHIFT,     /* beside the table: ops.TAKE (an index as an input), ops.SHIFT (max) */
    K_SINGLETONS,        /* the kinds above are ops of ops.OPS, found by identity */
    K_POWER = K_SINGLETONS, K_LEAKY, K_ACTIVATED,                        /* families */
    K_PYTHON,            /* any other Op: its Python compute and partials */
    K_COUNT
};

typedef double (*Forward)(double x, double y);
typedef double (*Partial)(double out, double x, double y, int input);

/* One row per op: its name in ops.OPS, its number of inputs (0: n-ary, computed by the code
 * of its kind), its forward and its local derivative side by side. */
typedef struct {
    const char *name;
    int arity;
    Forward forward;
    Partial partial;
    int can_fail;        /* not op.always_defined (read at _configure): its rule may raise */
} Row;

static Row ROWS[K_COUNT];   /* defined below, after the formulas */

static inline int is_unary_kind(int kind) { return ROWS[kind].arity == 1; }


/* The kind a node with n parents runs as: its op's, or K_PYTHON when n does not fit it (the
 * op's Python rule then says what is wrong). Only `_op`/`_prev` assignments can make a misfit. */
static int fit_kind(int kind, uint32_t n)
{
    if (ROWS[kind].arity)
        return n == (uint32_t)ROWS[kind].arity ? kind : K_PYTHON;
    if (kind == K_DOT)
        return n % 2 == 0 ? kind : K_PYTHON;
    if (kind == K_AFFINE || kind == K_ACTIVATED)
        return n % 2 == 1 ? kind : K_PYTHON;
    if (kind == K_TAKE)
        return n >= 2 ? kind : K_PYTHON;
    return kind;
}

/* --- the node -------------------------------------------------------------------------------- */

enum { F_MANY = 1, F_GRAD_VALUE = 2, F_LABEL = 4, F_SEEN = 8, F_DONE = 16, F_GOT = 32,
       F_SAVED = 64 };
/* F_SEEN, F_DONE: marks of the sort; F_GOT: something was added to the node's sum; F_SAVED:
 * its .grad is not +0.0 and waits in the walk's `saved`. They mean something only while the
 * node belongs to a walk (`walk` below is not 0). */
#define F_WALK (F_SEEN | F_DONE | F_GOT | F_SAVED)

typedef struct Node {
    PyObject_HEAD
    double data;
    /* v when F_GRAD_VALUE (create_graph); i while a walk holds the node (walk != 0): the
     * index of its slot in that walk, where its .grad is kept meanwhile */
    union { double f; struct Node *v; Py_ssize_t i; } grad;
    PyObject *op;                               /* the Op, a strong reference */
    union { struct Node *two[2]; struct Node **many; } parents;   /* many when F_MANY */
    uint32_t n;                                 /* number of parents */
    uint8_t kind;
    uint8_t walk;                               /* the walk holding the node, or 0 */
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
static PyObject *g_table;                  /* ops.OPS: the table, whose ops hold no user objects */
static PyObject *g_reference_method;       /* reference: name -> the reference Value's method */
/* the reference walk's errors, made by autograd/_compiled.py from the same functions */
static PyObject *g_rule_errors;            /* the errors a rule's failure is named for */
static PyObject *g_rule_error;             /* (node, error) -> "backward through <op> ..." */
static PyObject *g_rule_check;             /* node -> the error its Python rule raises, or None */
static PyObject *g_gradient_error;         /* (node, grad) -> a gradient that is not finite */
static PyObject *g_leaf_error;             /* (leaf, grad) -> the same, at a leaf */
static PyObject *g_accumulate_error;       /* (leaf, grad) -> old + grad overflows */
static PyObject *g_as_number;              /* reference: a rule's derivative -> float, or error */
static PyObject *g_as_label;               /* reference: a label -> str, or the error */
static PyObject *g_reduce;                 /* reference: Value -> its __reduce__ tuple */
static PyObject *g_deepcopy;               /* reference: (Value, memo) -> a copy of its graph */
static PyObject *g_labels;                 /* {address: label} of labelled nodes */
static PyObject *g_empty;                  /* "" */
static PyObject *g_str_partials, *g_str_name, *g_str_native, *g_str_always_defined;
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

/* --- autograd.compile's recording flag: one per thread, read where a Value's number is read --
 *
 * While a thread records a function (autograd.recording), reading the number of a Value would
 * bake it into the recording: the `.data` getter, `item()`, the number slots and the ordering
 * comparisons then call the reference's `refuse(value, what)`, which raises DataDependentError
 * naming the user's line. The readers first look at a process-wide count of the threads that
 * record (one load and a branch never taken when nobody records), then at their own thread's
 * flag. The core's own calls into the reference (a user's op's forward, the walk, the error
 * builders) run with the thread's flag off: the engine's reads are never refused. */
static THREAD_LOCAL int recording;
static int g_recorders;    /* threads whose flag is set (changed with the GIL held) */

#if defined(__GNUC__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define COLD __attribute__((noinline, cold))
#else
#define UNLIKELY(x) (x)
#define COLD
#endif

static PyObject *g_refuse;                 /* reference: (value, what) -> raises, or None */

/* The reference's refusal of a read while recording: -1 with its error set, or 0 when it lets
 * the read through (returns instead of raising). */
static COLD int refused(PyObject *value, const char *what)
{
    if (g_refuse == NULL)
        return 0;
    PyObject *result = PyObject_CallFunction(g_refuse, "Os", value, what);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

#define REFUSE_WHILE_RECORDING(value, what, failed)                                           \
    if (UNLIKELY(g_recorders) && recording && refused((PyObject *)(value), what) < 0)         \
        return failed

/* A number read while recording: refused, or (if the reference lets it through) the number.
 * The hot readers tail-call it, so when not recording they cost a load and a branch. */
static COLD PyObject *number_while_recording(PyObject *value, double data, const char *what)
{
    if (recording && refused(value, what) < 0)
        return NULL;
    return PyFloat_FromDouble(data);
}

/* Runs the core's own call into the reference with the flag off. */
static inline int pause_recording(void)
{
    int was = recording;
    recording = 0;
    return was;
}

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
static int g_last_family, g_next_family;

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

/* Reads op.native, which only the families of autograd/ops.py set (("power", p),
 * ("leaky_relu", slope), ("activated", activation)): fills *out (kind K_PYTHON for any other
 * op), or returns -1 with an error set. An Op copied with other rules has no `native`. */
static int describe_family(PyObject *op, Family *out, int depth)
{
    out->op = op;
    out->kind = K_PYTHON;
    out->parameter = 0.0;
    out->act_kind = K_PYTHON;
    PyObject *native = PyObject_GetAttr(op, g_str_native);
    if (native == NULL) {
        PyErr_Clear();          /* not an Op: the reference says what is wrong */
        return 0;
    }
    if (!PyTuple_CheckExact(native) || PyTuple_GET_SIZE(native) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(native, 0))) {
        Py_DECREF(native);
        return 0;
    }
    PyObject *family = PyTuple_GET_ITEM(native, 0), *constant = PyTuple_GET_ITEM(native, 1);
    int is_power = PyUnicode_CompareWithASCIIString(family, "power") == 0;
    int is_leaky = PyUnicode_CompareWithASCIIString(family, "leaky_relu") == 0;
    int is_activated = PyUnicode_CompareWithASCIIString(family, "activated") == 0;
    if ((is_power || is_leaky) && PyFloat_CheckExact(constant)) {
        out->kind = is_power ? K_POWER : K_LEAKY;
        out->parameter = PyFloat_AS_DOUBLE(constant);
    } else if (is_activated && depth == 0) {
        int kind = singleton_kind(constant);
        if (kind >= 0 && is_unary_kind(kind)) {
            out->kind = K_ACTIVATED;
            out->act_kind = kind;
        } else if (kind < 0) {
            Family inner;
            if (describe_family(constant, &inner, depth + 1) < 0) {
                Py_DECREF(native);
                return -1;
            }
            if (inner.kind == K_POWER || inner.kind == K_LEAKY) {
                out->kind = K_ACTIVATED;
                out->act_kind = inner.kind;
                out->parameter = inner.parameter;
            }
        }
    }
    Py_DECREF(native);
    return 0;
}

/* The kind of `op` (and a copy of its family record, for families), or -1 with an error set.
 * The cache holds the most recent family members; a new one replaces the oldest. */
static int resolve(PyObject *op, Family *family)
{
    family->op = NULL;
    family->parameter = 0.0;
    family->act_kind = K_PYTHON;
    int kind = singleton_kind(op);
    if (kind >= 0)
        return kind;
    const Family *known = find_family(op);
    if (known != NULL) {
        *family = *known;
        return known->kind;
    }
    Family fresh;
    if (describe_family(op, &fresh, 0) < 0)
        return -1;
    if (fresh.kind == K_PYTHON)
        return K_PYTHON;   /* a user's op: not cached, so a program making many holds none */
    *family = fresh;
    /* the slot is emptied before its old op is released: that may run Python code */
    int slot = g_n_families < FAMILY_CACHE ? g_n_families++ : g_next_family;
    g_next_family = (slot + 1) % FAMILY_CACHE;
    PyObject *old = g_families[slot].op;
    fresh.op = Py_NewRef(op);
    g_families[slot] = fresh;
    g_last_family = slot;
    Py_XDECREF(old);
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

/* exp(-x*x/2), 0 beyond |x| > 40 (ops.gauss) */
static double gauss(double x) { return fabs(x) > 40.0 ? 0.0 : exp(-0.5 * x * x); }

/* --- the rows: each op's forward (NAN where the reference must decide: outside the domain)
 * and local derivative d out / d input, as in autograd/ops.py and in the same order of
 * operations. Unary ops read x (and y: a family's constant); `input` picks the partial. */

static double add_f(double x, double y) { return x + y; }
static double add_d(double out, double x, double y, int i) { return 1.0; }
static double sub_f(double x, double y) { return x - y; }
static double sub_d(double out, double x, double y, int i) { return i ? -1.0 : 1.0; }
static double mul_f(double x, double y) { return x * y; }
static double mul_d(double out, double x, double y, int i) { return i ? x : y; }
static double div_f(double x, double y) { return y == 0.0 ? NAN : x / y; }
static double div_d(double out, double x, double y, int i) { return i ? -out / y : 1.0 / y; }
static double pow_f(double x, double y) { return x > 0.0 ? pow(x, y) : NAN; }
static double pow_d(double out, double x, double y, int i)
{
    return i ? out * log(x) : y * pow(x, y - 1.0);
}
static double neg_f(double x, double y) { return -x; }
static double neg_d(double out, double x, double y, int i) { return -1.0; }
static double exp_f(double x, double y) { return exp(x); }
static double exp_d(double out, double x, double y, int i) { return out; }
static double log_f(double x, double y) { return x > 0.0 ? log(x) : NAN; }
static double log_d(double out, double x, double y, int i) { return 1.0 / x; }
static double sqrt_f(double x, double y) { return x >= 0.0 ? sqrt(x) : NAN; }
static double sqrt_d(double out, double x, double y, int i) { return 0.5 / out; }
static double sin_f(double x, double y) { return isinf(x) ? NAN : sin(x); }
static double sin_d(double out, double x, double y, int i) { return cos(x); }
static double cos_f(double x, double y) { return isinf(x) ? NAN : cos(x); }
static double cos_d(double out, double x, double y, int i) { return -sin(x); }
static double tanh_f(double x, double y) { return tanh(x); }
static double tanh_d(double out, double x, double y, int i) { return 1.0 - out * out; }
static double sigmoid_f(double x, double y) { return sigmoid(x); }
static double sigmoid_d(double out, double x, double y, int i) { return out * (1.0 - out); }
static double softplus_f(double x, double y) { return ((0.0 > x) ? 0.0 : x) + log1p(exp(-fabs(x))); }
static double softplus_d(double out, double x, double y, int i) { return sigmoid(x); }
static double erf_f(double x, double y) { return erf(x); }
static double erf_d(double out, double x, double y, int i)
{
    return TWO_OVER_SQRT_PI * gauss(SQRT2 * x);
}
static double gelu_f(double x, double y) { return 0.5 * x * (1.0 + erf(x * SQRT1_2)); }
static double gelu_d(double out, double x, double y, int i)
{
    if (isinf(x))   /* the limits, not inf * 0 */
        return x > 0.0 ? 1.0 : 0.0;
    return 0.5 * (1.0 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * gauss(x);
}
static double relu_f(double x, double y) { return x > 0.0 ? x : 0.0; }
static double relu_d(double out, double x, double y, int i) { return x > 0.0 ? 1.0 : 0.0; }
static double abs_f(double x, double y) { return fabs(x); }
static double abs_d(double out, double x, double y, int i)
{
    return x > 0.0 ? 1.0 : x < 0.0 ? -1.0 : 0.0;
}
static double identity_f(double x, double y) { return x; }
static double identity_d(double out, double x, double y, int i) { return 1.0; }
static double power_f(double x, double p)
{
    if (x < 0.0 && !(isfinite(p) && p == floor(p)))
        return NAN;   /* as float.is_integer(): an infinite exponent is not an integer */
    if (x == 0.0 && p < 0.0)
        return NAN;
    return pow(x, p);
}
static double power_d(double out, double x, double p, int i)
{
    return p == 0.0 ? 0.0 : p * pow(x, p - 1.0);
}
static double leaky_f(double x, double slope) { return x > 0.0 ? x : slope * x; }
static double leaky_d(double out, double x, double slope, int i) { return x > 0.0 ? 1.0 : slope; }

#define ROW(KIND, name, arity, f, d) [KIND] = {name, arity, f, d, 0}
static Row ROWS[K_COUNT] = {
    ROW(K_ADD, "+", 2, add_f, add_d),
    ROW(K_SUB, "-", 2, sub_f, sub_d),
    ROW(K_MUL, "*", 2, mul_f, mul_d),
    ROW(K_DIV, "/", 2, div_f, div_d),
    ROW(K_POW, "**", 2, pow_f, pow_d),
    ROW(K_NEG, "neg", 1, neg_f, neg_d),
    ROW(K_EXP, "exp", 1, exp_f, exp_d),
    ROW(K_LOG, "log", 1, log_f, log_d),
    ROW(K_SQRT, "sqrt", 1, sqrt_f, sqrt_d),
    ROW(K_SIN, "sin", 1, sin_f, sin_d),
    ROW(K_COS, "cos", 1, cos_f, cos_d),
    ROW(K_TANH, "tanh", 1, tanh_f, tanh_d),
    ROW(K_SIGMOID, "sigmoid", 1, sigmoid_f, sigmoid_d),
    ROW(K_SOFTPLUS, "softplus", 1, softplus_f, softplus_d),
    ROW(K_ERF, "erf", 1, erf_f, erf_d),
    ROW(K_GELU, "gelu", 1, gelu_f, gelu_d),
    ROW(K_RELU, "relu", 1, relu_f, relu_d),
    ROW(K_ABS, "abs", 1, abs_f, abs_d),
    ROW(K_IDENTITY, "identity", 1, identity_f, identity_d),
    ROW(K_SUM, "sum", 0, NULL, NULL),          /* n-ary: sum_of, dot and affine below */
    ROW(K_DOT, "dot", 0, NULL, NULL),
    ROW(K_AFFINE, "affine", 0, NULL, NULL),
    ROW(K_TAKE, "take", 0, NULL, NULL),        /* n-ary: the index first, then the values */
    ROW(K_SHIFT, "max", 0, NULL, NULL),
    /* the families: members are recognised by op.native (see describe_family) */
    ROW(K_POWER, "", 1, power_f, power_d),
    ROW(K_LEAKY, "", 1, leaky_f, leaky_d),
    ROW(K_ACTIVATED, "", 0, NULL, NULL),
};

/* the activation of a fused neuron, its local derivative at z */
static inline double unary_partial(int kind, double parameter, double out, double z)
{
    return ROWS[kind].partial(out, z, parameter, 0);
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

/* ops._affine: sum([*map(mul, xs, ys), b]), the bias the last term of the same sum */
static double affine(const double *v, Py_ssize_t count)
{
    Py_ssize_t h = count / 2;
    Sum s = {0.0 + v[0] * v[h], 0.0};
    for (Py_ssize_t i = 1; i < h; i++)
        sum_add(&s, v[i] * v[h + i]);
    sum_add(&s, v[count - 1]);
    return sum_total(&s);
}

/* the same at a node, from its parents' data */
static double affine_at(Node *const *p, uint32_t count)
{
    uint32_t h = count / 2;
    Sum s = {0.0 + p[0]->data * p[h]->data, 0.0};
    for (uint32_t i = 1; i < h; i++)
        sum_add(&s, p[i]->data * p[h + i]->data);
    sum_add(&s, p[count - 1]->data);
    return sum_total(&s);
}

/* ops.take_position: the position an index picks from `count` values (a Python list index),
 * or -1 where the reference raises (not an integral number, or out of range). */
static Py_ssize_t take_position(double index, Py_ssize_t count)
{
    if (!isfinite(index) || index != floor(index) || index < -(double)count ||
        index >= (double)count)
        return -1;
    Py_ssize_t position = (Py_ssize_t)index;
    return position < 0 ? position + count : position;
}

/* The result of `kind` on x[0..n), or NAN where the reference should decide (bad arity, an
 * input outside the domain, a result that is not finite): the caller then asks Python. */
static double compute(int kind, const Family *family, Py_ssize_t n, const double *x)
{
    double result = NAN;
    double parameter = family ? family->parameter : 0.0;
    const Row *row = &ROWS[kind];
    if (row->arity) {
        if (n != row->arity)
            return NAN;
        result = row->forward(x[0], n == 2 ? x[1] : parameter);
    } else if (kind == K_SUM) {
        if (n < 1)
            return NAN;
        result = sum_of(x, n);
    } else if (kind == K_DOT) {
        if (n < 2 || n % 2)
            return NAN;
        result = dot(x, x + n / 2, n / 2);
    } else if (kind == K_TAKE) {
        Py_ssize_t position = n < 2 ? -1 : take_position(x[0], n - 1);
        if (position < 0)
            return NAN;
        result = x[1 + position];
    } else if (kind == K_SHIFT) {   /* Python's max(): the first of the largest */
        if (n < 1)
            return NAN;
        result = x[0];
        for (Py_ssize_t i = 1; i < n; i++)
            if (x[i] > result)
                result = x[i];
    } else if (kind == K_AFFINE || kind == K_ACTIVATED) {
        if (n < 3 || n % 2 == 0)
            return NAN;
        result = affine(x, n);
        if (kind == K_ACTIVATED && isfinite(result))
            result = ROWS[family->act_kind].forward(result, parameter);
    }
    return isfinite(result) ? result : NAN;
}

/* --- making nodes ----------------------------------------------------------------------------- */

/* Nodes come from CPython's documented allocator for collected types and go back through
 * PyObject_GC_Del. A node is born untracked: parents only point backwards, so it cannot be on a
 * cycle; it is tracked later only if it may be (track_reachable). */
static inline Node *alloc_node(void) { return PyObject_GC_New(Node, &ValueType); }

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
    node->kind = (uint8_t)kind;
    node->walk = 0;
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
static int as_float(PyObject *x, double *out)
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
    if (as_float(x, &data) < 0)
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
    /* not paused while recording: the reference's _forward reads the inputs' _data, and a
     * user's forward that reads a Value's number is a data dependence, refused as the
     * reference refuses it */
    PyObject *data = PyObject_CallFunctionObjArgs(g_forward, op, tuple, NULL);
    Py_DECREF(tuple);
    if (data == NULL)
        return -1;
    *out = PyFloat_AsDouble(data);
    Py_DECREF(data);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

#define SMALL 16

static int track_reachable(Node *start);

/* Whether op is one of the table's (a user's op may hold anything, even what holds its node) */
static int in_table(PyObject *op)
{
    if (singleton_kind(op) >= 0)
        return 1;
    PyObject *name = PyObject_GetAttr(op, g_str_name);
    if (name == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *found = PyDict_GetItemWithError(g_table, name);   /* borrowed, compared only */
    Py_DECREF(name);
    if (found == NULL)
        PyErr_Clear();
    return found == op;
}

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
        data = compute(kind, family, n, x);
        if (x != small)
            PyMem_Free(x);
    }
    if (isnan(data) && reference_forward(op, n, inputs, &data) < 0)
        return NULL;
    Node *node = new_node(data, op, kind, n, inputs);
    /* a user's op may hold anything, even what holds this node (a layer's bound method that
     * keeps its output): the collector must see such a node and what it reaches */
    if (node != NULL && kind == K_PYTHON && node->kind == K_PYTHON && !in_table(op) &&
        track_reachable(node) < 0)
        Py_CLEAR(node);
    return (PyObject *)node;
}

static PyObject *unary(Node *x, int kind)
{
    double data = compute(kind, NULL, 1, &x->data);
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
        default: data = compute(kind, NULL, 2, (double[]){x, y});
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
            node->kind = (uint8_t)kind;
            node->walk = 0;
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
    double data = compute(kind, NULL, 2, (double[]){inputs[0]->data, inputs[1]->data});
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

/* Freeing a node drops its references to its parents; dropping the last one frees the parent,
 * and so on down a chain: by recursion, a million-deep chain would overflow the C stack. So a
 * parent whose last reference this is goes on a per-thread stack instead, and the outermost
 * deallocation drops them one by one with Py_DECREF (each such call frees one node and pushes
 * its own parents). Every reference is released through Py_DECREF, as debug builds and
 * reference tracers expect. */
static THREAD_LOCAL struct {
    Node **items;
    Py_ssize_t top, size;
    int draining;
} g_free;

static void release_later(Node *node)
{
    if (Py_REFCNT(node) > 1 || g_free.top == PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(Node *)) {
        Py_DECREF(node);     /* someone else still holds it: nothing is freed */
        return;
    }
    if (g_free.top == g_free.size) {
        Py_ssize_t size = g_free.size ? 2 * g_free.size : 64;
        Node **bigger = PyMem_Realloc(g_free.items, size * sizeof(Node *));
        if (bigger == NULL) {
            Py_DECREF(node);   /* out of memory: free this one by recursion instead */
            return;
        }
        g_free.items = bigger;
        g_free.size = size;
    }
    g_free.items[g_free.top++] = node;
}

static void forget_label(Node *node)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *raised = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
#endif
    PyObject *key = PyLong_FromVoidPtr(node);
    if (key == NULL || PyDict_DelItem(g_labels, key) < 0)
        PyErr_WriteUnraisable((PyObject *)node);
    Py_XDECREF(key);
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(raised);
#else
    PyErr_Restore(type, value, traceback);
#endif
}

static void Value_dealloc(Node *self)
{
    PyObject_GC_UnTrack(self);
    if (self->flags & F_LABEL)
        forget_label(self);
    Node **parents = parents_of(self);
    for (uint32_t i = 0; i < self->n; i++)
        release_later(parents[i]);
    if (self->flags & F_MANY)
        PyMem_Free(self->parents.many);
    if (self->flags & F_GRAD_VALUE)
        release_later(self->grad.v);
    PyObject *op = self->op;
    PyObject_GC_Del(self);
    Py_DECREF(op);
    if (g_free.draining)
        return;   /* an outer deallocation is dropping the stack */
    g_free.draining = 1;
    while (g_free.top)
        Py_DECREF(g_free.items[--g_free.top]);   /* frees it: its parents join the stack */
    g_free.draining = 0;
    if (g_free.size > 4096) {   /* keep a small stack between frees, not a chain's */
        PyMem_Free(g_free.items);
        g_free.items = NULL;
        g_free.size = 0;
    }
}

/* --- the Value type: construction and attributes ------------------------------------------- */

static int set_label(Node *self, PyObject *label);

/* A walk that runs Python code (a user's rule) holds its nodes meanwhile: their parents and
 * op cannot change under it. */
static int refuse_while_busy(Node *self, const char *what)
{
    if (!self->walk)
        return 0;
    PyErr_Format(PyExc_RuntimeError,
                 "cannot change a Value's %s while backward() runs through it (from inside an "
                 "op's rule)", what);
    return -1;
}

static double held_grad(Node *node);
static int set_held_grad(Node *node, double grad);


static PyObject *Value_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"data", "label", NULL};
    PyObject *data_obj, *label = NULL;
    if (!configured())
        return NULL;
    double data;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:Value", names, &data_obj, &label))
        goto reference;
    if (label != NULL && !PyUnicode_CheckExact(label))
        goto reference;
    if (IS_NODE(data_obj) || as_float(data_obj, &data) < 0)
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
    if (node != NULL && label != NULL && PyUnicode_CheckExact(label) && PyUnicode_GET_LENGTH(label) &&
        set_label(node, label) < 0)
        Py_CLEAR(node);
    return (PyObject *)node;
}

static PyObject *get_data(Node *self, void *closure) { return PyFloat_FromDouble(self->data); }

/* the `.data` attribute: refused while this thread records (repr reads get_data) */
static PyObject *get_data_attr(Node *self, void *closure)
{
    if (UNLIKELY(g_recorders))
        return number_while_recording((PyObject *)self, self->data, "v.data");
    return PyFloat_FromDouble(self->data);
}

static int set_data(Node *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Value's data cannot be deleted");
        return -1;
    }
    double data;
    if (IS_NODE(value)) {
        data = NAN;   /* the reference's own error for a Value where a number belongs */
        if (as_float(value, &data) < 0)
            return -1;
    } else if (as_float(value, &data) < 0)
        return -1;
    self->data = data;
    return 0;
}

static PyObject *get_grad(Node *self, void *closure)
{
    if (self->walk)   /* a walk holds it: its .grad waits in the walk's slot */
        return PyFloat_FromDouble(held_grad(self));
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
    if (self->walk) {   /* a walk holds it: a number waits in the walk's slot */
        double grad;
        if (IS_NODE(value)) {
            PyErr_SetString(PyExc_RuntimeError,
                            "cannot set a Value as the .grad of a Value while backward() runs "
                            "through it");
            return -1;
        }
        if (PyFloat_Check(value))
            grad = PyFloat_AS_DOUBLE(value);
        else if (as_float(value, &grad) < 0)
            return -1;
        return set_held_grad(self, grad);
    }
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
        else if (as_float(value, &grad) < 0)
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
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *label;
    int found = PyDict_GetItemRef(g_labels, key, &label);
    Py_DECREF(key);
    if (found < 0)
        return NULL;
    return found ? label : Py_NewRef(g_empty);
#else
    PyObject *label = PyDict_GetItemWithError(g_labels, key);   /* borrowed: taken at once */
    Py_DECREF(key);
    if (label == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(g_empty);
    return Py_NewRef(label);
#endif
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
    if (!PyUnicode_CheckExact(label)) {   /* the reference's error */
        if (!configured())
            return -1;
        PyObject *checked = PyObject_CallOneArg(g_as_label, label);
        if (checked == NULL)
            return -1;
        int status = set_label(self, checked);
        Py_DECREF(checked);
        return status;
    }
    return set_label(self, label);
}

static PyObject *get_op_name(Node *self, void *closure)
{
    return PyObject_GetAttr(self->op, g_str_name);
}

static PyObject *get_op(Node *self, void *closure) { return Py_NewRef(self->op); }

static int op_kind(PyObject *op, uint32_t n)
{
    Family family;
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
    self->kind = (uint8_t)kind;
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
    self->kind = (uint8_t)kind;
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
    {"data", (getter)get_data_attr, (setter)set_data, "The number this Value holds.", NULL},
    {"_data", (getter)get_data, NULL,
     "The number, as the engine itself reads it: never refused while recording.", NULL},
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
static PyObject *nb_float(Node *x)
{
    if (UNLIKELY(g_recorders))
        return number_while_recording((PyObject *)x, x->data, "float(v)");
    return PyFloat_FromDouble(x->data);
}

static COLD int bool_while_recording(Node *x)
{
    return recording && refused((PyObject *)x, "bool(v)") < 0 ? -1 : 1;
}

/* Python's truth of an object without __bool__ (True), refused while recording */
static int nb_bool(Node *x)
{
    if (UNLIKELY(g_recorders))
        return bool_while_recording(x);
    return 1;
}

/* a few exponents' power ops, so `x ** 2` skips the call to ops.power */
#define POWER_CACHE 8
static struct { double p; PyObject *op; } g_power_cache[POWER_CACHE];
static int g_power_next;

/* A new reference to ops.power(p): the caller holds it while Python code may run (and evict
 * it from this cache). */
static PyObject *power_op(double p)
{
    for (int i = 0; i < POWER_CACHE; i++)
        if (g_power_cache[i].op && g_power_cache[i].p == p &&
            signbit(g_power_cache[i].p) == signbit(p))
            return Py_NewRef(g_power_cache[i].op);
    PyObject *op = PyObject_CallFunction(g_power, "d", p);
    if (op == NULL)
        return NULL;
    int slot = g_power_next;
    g_power_next = (slot + 1) % POWER_CACHE;
    PyObject *old = g_power_cache[slot].op;
    g_power_cache[slot].op = Py_NewRef(op);
    g_power_cache[slot].p = p;
    Py_XDECREF(old);
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
        if (as_float(b, &p) < 0)
            return NULL;
        PyObject *op = power_op(p);
        if (op == NULL)
            return NULL;
        PyObject *result = apply_op(op, 1, &a);
        Py_DECREF(op);
        return result;
    }
    return binary(K_POW, a, b);
}

static inline PyObject *compare(Node *self, PyObject *other, int op);

static COLD PyObject *compare_while_recording(Node *self, PyObject *other, int op)
{
    static const char *const spelled[] = {
        [Py_LT] = "v < w", [Py_LE] = "v <= w", [Py_GT] = "v > w", [Py_GE] = "v >= w"};
    if (recording && refused((PyObject *)self, spelled[op]) < 0)
        return NULL;
    return compare(self, other, op);
}

static PyObject *Value_richcompare(Node *self, PyObject *other, int op)
{
    if (op == Py_EQ || op == Py_NE)
        Py_RETURN_NOTIMPLEMENTED;      /* identity, as for any object */
    if (UNLIKELY(g_recorders))
        return compare_while_recording(self, other, op);
    return compare(self, other, op);
}

/* < <= > >= compare data, as the reference's methods do */
static inline PyObject *compare(Node *self, PyObject *other, int op)
{
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

/* int(v), operator.index(v), round(v), format(v, spec): Python methods of the reference Value
 * (found by _configure; NULL where it has none), called as they are so both engines answer
 * alike, after the refusal while recording. */
static PyObject *g_reference_int, *g_reference_index, *g_reference_round, *g_reference_format;

static PyObject *call_reference_method(PyObject *method, Node *self, PyObject *const *args,
                                       Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *small[4], **all = small;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (1 + nargs + nkw > 4 && (all = PyMem_Malloc((1 + nargs + nkw) * sizeof(PyObject *))) == NULL)
        return PyErr_NoMemory();
    all[0] = (PyObject *)self;
    if (nargs + nkw)
        memcpy(all + 1, args, (nargs + nkw) * sizeof(PyObject *));
    Py_INCREF(method);   /* held while it runs: _configure may replace it */
    PyObject *result = PyObject_Vectorcall(method, all, 1 + nargs, kwnames);
    Py_DECREF(method);
    if (all != small)
        PyMem_Free(all);
    return result;
}

static PyObject *nb_int(Node *self)
{
    REFUSE_WHILE_RECORDING(self, "int(v)", NULL);
    if (g_reference_int != NULL)
        return call_reference_method(g_reference_int, self, NULL, 0, NULL);
    return PyErr_Format(PyExc_TypeError,
                        "int() argument must be a string, a bytes-like object or a real number, "
                        "not '%.200s'", Py_TYPE(self)->tp_name);
}

static PyObject *nb_index(Node *self)
{
    REFUSE_WHILE_RECORDING(self, "a Value as an index", NULL);
    if (g_reference_index != NULL)
        return call_reference_method(g_reference_index, self, NULL, 0, NULL);
    return PyErr_Format(PyExc_TypeError, "'%.200s' object cannot be interpreted as an integer",
                        Py_TYPE(self)->tp_name);
}

static PyObject *Value_round(Node *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    REFUSE_WHILE_RECORDING(self, "round(v)", NULL);
    if (g_reference_round != NULL)
        return call_reference_method(g_reference_round, self, args, nargs, kwnames);
    return PyErr_Format(PyExc_TypeError, "type %.100s doesn't define __round__ method",
                        Py_TYPE(self)->tp_name);
}

static PyObject *Value_format(Node *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    REFUSE_WHILE_RECORDING(self, "format(v)", NULL);
    if (g_reference_format != NULL)
        return call_reference_method(g_reference_format, self, args, nargs, kwnames);
    PyObject *format = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type, "__format__");
    if (format == NULL)
        return NULL;
    PyObject *result = call_reference_method(format, self, args, nargs, kwnames);
    Py_DECREF(format);
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
    .nb_bool = (inquiry)nb_bool,
    .nb_int = (unaryfunc)nb_int,
    .nb_index = (unaryfunc)nb_index,
};

/* --- methods: the table's unary ops ----------------------------------------------------------- */

/* A method without arguments; given any, the reference's method names the mistake. */
#define NO_ARGUMENTS(name)                                                                    \
    if (nargs || kwnames)                                                                     \
        return reference_call_error(name, self, args, nargs, kwnames)
#define METHOD_ARGS PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames
static PyObject *reference_call_error(const char *name, Node *self, PyObject *const *args,
                                      Py_ssize_t nargs, PyObject *kwnames);

#define UNARY_METHOD(name, KIND)                                                              \
    static PyObject *Value_##name(Node *self, METHOD_ARGS)                                    \
    {                                                                                         \
        NO_ARGUMENTS(#name);                                                                  \
        return unary(self, KIND);                                                             \
    }
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

/* The reference method's own TypeError for arguments a compiled method does not take: the
 * call is irregular, so the reference raises before its body runs. */
static PyObject *reference_call_error(const char *name, Node *self, PyObject *const *args,
                                      Py_ssize_t nargs, PyObject *kwnames)
{
    if (!configured())
        return NULL;
    PyObject *method = PyObject_CallFunction(g_reference_method, "s", name);
    if (method == NULL)
        return NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject **all = PyMem_Malloc((1 + nargs + nkw) * sizeof(PyObject *));
    if (all == NULL) {
        Py_DECREF(method);
        return PyErr_NoMemory();
    }
    all[0] = (PyObject *)self;
    memcpy(all + 1, args, (nargs + nkw) * sizeof(PyObject *));
    PyObject *result = PyObject_Vectorcall(method, all, 1 + nargs, kwnames);
    PyMem_Free(all);
    Py_DECREF(method);
    if (result != NULL) {   /* cannot happen for an irregular call; be safe */
        Py_DECREF(result);
        PyErr_Format(PyExc_TypeError, "%s(): unexpected arguments", name);
    }
    return NULL;
}

/* The one optional argument `name` of a method, positional or by keyword: 1 if given (in
 * *value), 0 if not, -1 if the call is irregular. */
static int one_optional(const char *name, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames, PyObject **value)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1)
        return -1;
    if (nkw == 1 && (!PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0)) ||
                     PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), name) != 0))
        return -1;
    if (nargs + nkw == 0)
        return 0;
    *value = args[0];
    return 1;
}

static PyObject *Value_leaky_relu(Node *self, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    PyObject *slope = NULL;
    int given = one_optional("slope", args, nargs, kwnames, &slope);
    if (given < 0)
        return reference_call_error("leaky_relu", self, args, nargs, kwnames);
    if (!configured())
        return NULL;
    PyObject *op = given ? PyObject_CallOneArg(g_leaky, slope) : PyObject_CallNoArgs(g_leaky);
    if (op == NULL)
        return NULL;
    PyObject *self_obj = (PyObject *)self;
    PyObject *result = apply_op(op, 1, &self_obj);
    Py_DECREF(op);
    return result;
}

static PyObject *Value_item(Node *self, METHOD_ARGS)
{
    NO_ARGUMENTS("item");
    if (UNLIKELY(g_recorders))
        return number_while_recording((PyObject *)self, self->data, "v.item()");
    return PyFloat_FromDouble(self->data);
}

static PyObject *Value_detach(Node *self, METHOD_ARGS)
{
    NO_ARGUMENTS("detach");
    REFUSE_WHILE_RECORDING(self, "v.data", NULL);   /* the reference reads self.data */
    return (PyObject *)new_leaf(self->data);
}

static PyObject *Value_reduce(Node *self, METHOD_ARGS)
{
    NO_ARGUMENTS("__reduce__");
    if (!configured())
        return NULL;
    return PyObject_CallOneArg(g_reduce, (PyObject *)self);
}

static PyObject *Value_deepcopy(Node *self, METHOD_ARGS)
{
    if (nargs != 1 || kwnames)
        return reference_call_error("__deepcopy__", self, args, nargs, kwnames);
    if (!configured())
        return NULL;
    return PyObject_CallFunctionObjArgs(g_deepcopy, (PyObject *)self, args[0], NULL);
}

/* --- the first-order backward walk ----------------------------------------------------------- */

/* The walk keeps its sums outside the nodes, as the reference keeps them in a dict, and writes
 * the nodes' .grad only once it has finished: nobody -- another thread, a user's rule, a
 * signal handler -- sees a partial gradient. While it runs, a node it holds has `walk` set to
 * the walk's number and its grad field holds the index of the node's slot in the walk: the
 * sum being added up (`sums`) and the node's .grad meanwhile (`saved`, read and written by the
 * .grad attribute; allocated only for a .grad that is not +0.0, as a fresh graph's are). A walk
 * that meets a node another walk holds hands the whole backward() to the reference before it
 * has changed anything: its dict of sums does not mind, and it reads and writes .grad through
 * the attribute. */
typedef struct Walk {
    /* one array for two lists: the order from the front (interior nodes, each after its parents,
     * root last) and the depth-first stack from the back (stack entry i is items[cap - 1 - i]);
     * as the sort goes on the stack shrinks while the order grows */
    Node **items;
    Py_ssize_t cap, n_order, top;
    double *sums, *saved;                /* by slot; saved may be NULL (every .grad was +0.0) */
    Py_ssize_t n_slots, cap_slots;
    Node **leaves;                       /* the leaves the walk holds */
    Py_ssize_t n_leaves, cap_leaves;
    Node **got;          /* the leaves in the order their sums began, as the reference's dict */
    Py_ssize_t n_got;
    int id;              /* its number in g_walks */
} Walk;

#define MAX_WALKS 255
static Walk *g_walks[MAX_WALKS + 1];      /* the walks running (any thread), by number */

#define ORDER(w, i) ((w)->items[i])
#define STACK(w, i) ((w)->items[(w)->cap - 1 - (i)])
#define CHECK_SIGNALS_EVERY 0x3FFF        /* nodes between two looks for Ctrl-C (< 1 ms) */

static int walk_start(Walk *w)
{
    for (int id = 1; id <= MAX_WALKS; id++)
        if (g_walks[id] == NULL) {
            g_walks[id] = w;
            w->id = id;
            return 0;
        }
    return -1;   /* 255 walks at once (nested or threads): the reference takes this one */
}

static void walk_free(Walk *w)
{
    if (w->id)
        g_walks[w->id] = NULL;
    PyMem_Free(w->items);
    PyMem_Free(w->sums);
    PyMem_Free(w->saved);
    PyMem_Free(w->leaves);
    PyMem_Free(w->got);
}

/* Room for `extra` more entries in the order and the stack together (the check inlined, the
 * growth not: it runs a few times per walk). */
static int grow_items(Walk *w, Py_ssize_t need);

static inline int room(Walk *w, Py_ssize_t extra)
{
    Py_ssize_t need = w->n_order + w->top + extra;
    return need <= w->cap ? 0 : grow_items(w, need);
}

static int grow_items(Walk *w, Py_ssize_t need)
{
    Py_ssize_t cap = w->cap ? w->cap * 2 : 256;
    while (cap < need)
        cap *= 2;
    Node **items = PyMem_Realloc(w->items, cap * sizeof(Node *));
    if (items == NULL)
        return PyErr_NoMemory(), -1;
    memmove(items + cap - w->top, items + w->cap - w->top, w->top * sizeof(Node *));
    w->items = items;
    w->cap = cap;
    return 0;
}

/* Room for `extra` more slots, and leaves (the check inlined, the growth not). */
static int grow_slots(Walk *w, Py_ssize_t extra);

static inline int room_slots(Walk *w, Py_ssize_t extra)
{
    if (w->n_slots + extra <= w->cap_slots && w->n_leaves + extra <= w->cap_leaves)
        return 0;
    return grow_slots(w, extra);
}

static int grow_slots(Walk *w, Py_ssize_t extra)
{
    if (w->n_slots + extra > w->cap_slots) {
        Py_ssize_t cap = w->cap_slots ? w->cap_slots * 2 : 256;
        while (cap < w->n_slots + extra)
            cap *= 2;
        double *sums = PyMem_Realloc(w->sums, cap * sizeof(double));
        if (sums == NULL)
            return PyErr_NoMemory(), -1;
        w->sums = sums;
        if (w->saved) {
            double *saved = PyMem_Realloc(w->saved, cap * sizeof(double));
            if (saved == NULL)
                return PyErr_NoMemory(), -1;
            w->saved = saved;
        }
        w->cap_slots = cap;
    }
    if (w->n_leaves + extra > w->cap_leaves) {
        Py_ssize_t cap = w->cap_leaves ? w->cap_leaves * 2 : 64;
        while (cap < w->n_leaves + extra)
            cap *= 2;
        Node **leaves = PyMem_Realloc(w->leaves, cap * sizeof(Node *));
        if (leaves == NULL)
            return PyErr_NoMemory(), -1;
        w->leaves = leaves;
        w->cap_leaves = cap;
    }
    return 0;
}

/* Stores a .grad that is not +0.0 in slot k (allocating `saved` on the first one). */
static int save(Walk *w, Node *node, Py_ssize_t k, double grad)
{
    if (w->saved == NULL && (w->saved = PyMem_Malloc(w->cap_slots * sizeof(double))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    w->saved[k] = grad;
    node->flags |= F_SAVED;
    return 0;
}

static inline int is_plus_zero(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits == 0;
}

/* The walk takes a node: its .grad moves to a slot (room_slots was called). */
static inline int hold(Walk *w, Node *node)
{
    Py_ssize_t k = w->n_slots++;
    double grad = node->grad.f;
    node->flags = (node->flags & ~F_WALK) | F_SEEN;
    if (!is_plus_zero(grad) && save(w, node, k, grad) < 0) {
        w->n_slots--;
        node->flags &= ~F_WALK;
        return -1;
    }
    node->grad.i = k;
    node->walk = (uint8_t)w->id;
    if (node->n == 0)
        w->leaves[w->n_leaves++] = node;
    return 0;
}

/* The .grad a held node had, with whatever was assigned to it since. */
static inline double before(const Walk *w, const Node *node)
{
    return (node->flags & F_SAVED) ? w->saved[node->grad.i] : 0.0;
}

static inline void give_back(Node *node, double grad)
{
    node->grad.f = grad;
    node->walk = 0;
    node->flags &= ~F_WALK;
}

/* Gives every node back: its .grad the walk's result (`finished`) or as it was before. */
static void release_all(Walk *w, int finished)
{
    for (Py_ssize_t i = 0; i < w->n_order; i++) {
        Node *node = ORDER(w, i);
        give_back(node, finished ? w->sums[node->grad.i] : before(w, node));
    }
    for (Py_ssize_t i = 0; i < w->top; i++) {   /* a failed sort: expanded, not listed yet */
        Node *node = STACK(w, i);
        if (node->walk == w->id)
            give_back(node, before(w, node));
    }
    for (Py_ssize_t j = 0; j < w->n_leaves; j++) {
        Node *leaf = w->leaves[j];
        give_back(leaf, finished ? w->sums[leaf->grad.i] : before(w, leaf));
    }
    w->n_order = w->top = w->n_leaves = 0;
}

/* The .grad attribute of a node a walk holds. */
static double held_grad(Node *node) { return before(g_walks[node->walk], node); }

static int set_held_grad(Node *node, double grad)
{
    Walk *w = g_walks[node->walk];
    if (is_plus_zero(grad) && !(node->flags & F_SAVED))
        return 0;
    return save(w, node, node->grad.i, grad);
}

/* The same depth-first order as engine.topological_order (parents pushed in order, the last
 * one expanded first), with marks in the node instead of a set: F_SEEN once expanded, F_DONE
 * once listed. A node stays on the stack while its parents are sorted and is listed when it
 * is on top again. Each node is taken (hold) when first expanded, a leaf when first met.
 * Returns 0, -1 with an error set, or 1 when the reference must take the walk: a node holds a
 * Value grad (from create_graph) or another walk holds it. */
static int topological_order(Node *root, Walk *w)
{
    if (root->walk || (root->flags & F_GRAD_VALUE))
        return 1;
    if (root->n == 0)
        return room_slots(w, 1) < 0 || hold(w, root) < 0 ? -1 : 0;
    if (room(w, 1) < 0)
        return -1;
    STACK(w, w->top++) = root;
    uint8_t id = (uint8_t)w->id;
    Py_ssize_t steps = 0;
    while (w->top) {
        Node *node = STACK(w, w->top - 1);
        if (node->walk == id) {
            w->top--;
            if (!(node->flags & F_DONE)) {   /* back on top: its parents are listed */
                node->flags |= F_DONE;
                ORDER(w, w->n_order++) = node;
            }                                /* else pushed twice, listed already */
            continue;
        }
        if (node->walk || (node->flags & F_GRAD_VALUE))
            return 1;
        if (room(w, node->n) < 0 || room_slots(w, node->n + 1) < 0)
            return -1;
        if ((++steps & CHECK_SIGNALS_EVERY) == 0 && PyErr_CheckSignals() < 0)
            return -1;
        if (hold(w, node) < 0)
            return -1;
        Node **parents = parents_of(node);
        for (uint32_t i = 0; i < node->n; i++) {
            Node *parent = parents[i];
            if (parent->walk == id)
                continue;                    /* expanded, or a leaf met already */
            if (parent->n)
                STACK(w, w->top++) = parent;
            else if (parent->walk || (parent->flags & F_GRAD_VALUE))
                return 1;
            else if (hold(w, parent) < 0)
                return -1;
        }
    }
    return 0;
}

/* Adds grad * local to a parent's sum, as the reference walk does: a local derivative of
 * exactly 0 adds nothing (a relu that is off), nor does a gradient of exactly 0 (a node below
 * it). The first product starts the sum, as in the reference's dict. */
static inline void add(Walk *w, Node *parent, double grad, double local)
{
    if (local != 0.0 && grad != 0.0) {
        double *sum = &w->sums[parent->grad.i];
        if (parent->flags & F_GOT)
            *sum += grad * local;
        else {
            *sum = grad * local;
            parent->flags |= F_GOT;
            if (parent->n == 0)
                w->got[w->n_got++] = parent;
        }
    }
}

/* An error made by a function of the reference (a new exception object), raised. Returns -1. */
static int raise_made(PyObject *error)
{
    if (error != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(error);
    }
    return -1;
}

/* The exception being raised, taken (a new reference, normalized, its traceback on it); the
 * error indicator is then clear. */
static PyObject *take_raised(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *error, *traceback;
    PyErr_Fetch(&type, &error, &traceback);
    PyErr_NormalizeException(&type, &error, &traceback);
    if (traceback != NULL && error != NULL)
        PyException_SetTraceback(error, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return error;
#endif
}

/* Raises `named`, the reference's error naming the op for a rule's `error`, as the reference's
 * `raise named from None` in `except RULE_ERRORS as error` does: __context__ is the rule's error
 * and __suppress_context__ True, whatever the caller is handling (PyErr_SetObject would chain
 * the caller's exception). Takes both references; returns -1. */
static int raise_from_none(PyObject *named, PyObject *error)
{
    if (named == NULL || !PyExceptionInstance_Check(named)) {
        Py_XDECREF(error);
        return raise_made(named);
    }
    if (error != NULL)
        PyException_SetContext(named, error);   /* takes error */
    PyException_SetCause(named, NULL);   /* sets __suppress_context__, as `from None` */
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(named);
#else
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(named)), named, NULL);
#endif
    return -1;
}

/* The reference's error for a rule that raised at `node` (ArithmeticError, ValueError and
 * TypeError are named after the op and its inputs; anything else, Ctrl-C included, is the
 * user's and passes unchanged). Returns -1. */
static int rule_failed(Node *node)
{
    if (!PyErr_ExceptionMatches(g_rule_errors))
        return -1;
    PyObject *error = take_raised();
    return raise_from_none(
        PyObject_CallFunctionObjArgs(g_rule_error, (PyObject *)node, error, NULL), error);
}

/* A rule of this file gave a derivative that is not finite where the reference's rule, on
 * Python floats, may raise instead (x ** -1 at 0, sqrt at 0): ask it. 0 if it does not. */
static int consult_rule(Node *node)
{
    PyObject *error = PyObject_CallOneArg(g_rule_check, (PyObject *)node);
    if (error == NULL)
        return -1;
    if (error == Py_None) {
        Py_DECREF(error);
        return 0;
    }
    return raise_made(error);
}

/* tuple(map(_as_number, partials)) of engine.as_numbers, as a list: the rule's own object
 * iterated again, each item converted (or refused) by the reference's _as_number */
static PyObject *as_numbers(PyObject *partials)
{
    PyObject *it = PyObject_GetIter(partials), *item;
    PyObject *list = it == NULL ? NULL : PyList_New(0);
    if (list == NULL) {
        Py_XDECREF(it);
        return NULL;
    }
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *number = PyObject_CallOneArg(g_as_number, item);
        Py_DECREF(item);
        if (number == NULL || PyList_Append(list, number) < 0) {
            Py_XDECREF(number);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(number);
    }
    Py_DECREF(it);
    if (list != NULL && PyErr_Occurred())
        Py_CLEAR(list);
    return list;
}

/* A rule's derivatives as the reference takes them: len(partials) must be n (else the count
 * error); engine.as_numbers then converts them (tuple(map(_as_number, partials)) when one is not
 * a float), and pass_on zips them with the parents. Fills locals and returns how many derivatives
 * pass on (at most n: zip stops at the shorter), or -1 with the error raised. The rule's object
 * is read through a tuple copy: the conversions run Python code (a number's __float__), which
 * may change or free the rule's list (so as_numbers' map, run on the rule's own object as the
 * reference runs it, may stop early). */
static Py_ssize_t rule_locals(PyObject *partials, Py_ssize_t n, double *locals)
{
    Py_ssize_t count = PyObject_Size(partials);
    if (count < 0)
        return -1;
    if (count != n) {
        PyErr_Format(PyExc_TypeError, "its rule gave %zd derivatives for %zd inputs", count, n);
        return -1;
    }
    PyObject *seq = PySequence_Tuple(partials);   /* its error: "'X' object is not iterable" */
    if (seq == NULL)
        return -1;
    Py_ssize_t m = PyTuple_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < m; i++)
        if (!PyFloat_CheckExact(PyTuple_GET_ITEM(seq, i))) {   /* as engine.as_numbers */
            Py_SETREF(seq, as_numbers(partials));
            if (seq == NULL)
                return -1;
            m = PyList_GET_SIZE(seq);
            break;
        }
    if (m > n)
        m = n;
    for (Py_ssize_t i = 0; i < m; i++) {
        locals[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));   /* floats now */
        if (locals[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return m;
}

/* A user's op (or one whose rule this file does not have): op.partials(out, [inputs' data]),
 * checked as the reference checks it, then grad * partial added into each parent. */
static int python_partials(Walk *w, Node *node, double g)
{
    if (g == 0.0) {   /* the reference leaves out a rule that cannot fail where nothing passes */
        PyObject *flag = PyObject_GetAttr(node->op, g_str_always_defined);
        int skip = flag == NULL ? -1 : PyObject_IsTrue(flag);
        Py_XDECREF(flag);
        if (skip)
            return skip < 0 ? rule_failed(node) : 0;
    }
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
        return rule_failed(node);
    /* as the reference: len(partials), then its items, each a real number */
    double small[SMALL];
    double *locals = node->n <= SMALL ? small : PyMem_Malloc(node->n * sizeof(double));
    if (locals == NULL) {
        Py_DECREF(partials);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t m = rule_locals(partials, node->n, locals);
    Py_DECREF(partials);
    if (m >= 0)
        for (Py_ssize_t i = 0; i < m; i++)   /* all checked first, as the reference does */
            add(w, parents[i], g, locals[i]);
    if (locals != small)
        PyMem_Free(locals);
    return m < 0 ? rule_failed(node) : 0;
}

/* Adds each parent's share of node's gradient g: g * the local derivative. */
static int propagate(Walk *w, Node *node, double g)
{
    Node **p = parents_of(node);
    switch (node->kind) {   /* + - *: their rows, spelled out on the hottest path */
    case K_ADD: add(w, p[0], g, 1.0); add(w, p[1], g, 1.0); return 0;
    case K_SUB: add(w, p[0], g, 1.0); add(w, p[1], g, -1.0); return 0;
    case K_MUL: {
        double x = p[0]->data, y = p[1]->data;
        add(w, p[0], g, y);
        add(w, p[1], g, x);
        return 0;
    }
    case K_SUM:
        for (uint32_t i = 0; i < node->n; i++)
            add(w, p[i], g, 1.0);
        return 0;
    case K_TAKE: {   /* 1 for the value picked, 0 for the others and the index */
        Py_ssize_t position = take_position(p[0]->data, node->n - 1);
        if (position < 0)   /* its index was changed since: the reference's rule raises */
            return python_partials(w, node, g);
        add(w, p[1 + position], g, 1.0);
        return 0;
    }
    case K_SHIFT:    /* a constant: every derivative is 0 */
        return 0;
    case K_DOT: {   /* in the parents' order, as the reference adds: the xs, then the ys */
        uint32_t h = node->n / 2;
        for (uint32_t i = 0; i < h; i++)
            add(w, p[i], g, p[h + i]->data);
        for (uint32_t i = 0; i < h; i++)
            add(w, p[h + i], g, p[i]->data);
        return 0;
    }
    case K_AFFINE:
    case K_ACTIVATED: {
        uint32_t h = node->n / 2;
        double slope = 1.0;
        if (node->kind == K_ACTIVATED) {
            const Family *f = find_family(node->op);
            if (f == NULL)
                return python_partials(w, node, g);
            slope = unary_partial(f->act_kind, f->parameter, node->data, affine_at(p, node->n));
            if (!isfinite(slope) && ROWS[f->act_kind].can_fail && consult_rule(node) < 0)
                return -1;
            if (g == 0.0 || slope == 0.0)   /* a relu that is off: no products needed */
                return 0;
            for (uint32_t i = 0; i < h; i++)
                add(w, p[i], g, p[h + i]->data * slope);
            for (uint32_t i = 0; i < h; i++)
                add(w, p[h + i], g, p[i]->data * slope);
            add(w, p[node->n - 1], g, slope);
            return 0;
        }
        for (uint32_t i = 0; i < h; i++)
            add(w, p[i], g, p[h + i]->data);
        for (uint32_t i = 0; i < h; i++)
            add(w, p[h + i], g, p[i]->data);
        add(w, p[node->n - 1], g, 1.0);
        return 0;
    }
    case K_POWER:
    case K_LEAKY: {
        const Family *f = find_family(node->op);
        if (f == NULL)
            return python_partials(w, node, g);
        double local = unary_partial(node->kind, f->parameter, node->data, p[0]->data);
        if (!isfinite(local) && ROWS[node->kind].can_fail && consult_rule(node) < 0)
            return -1;
        add(w, p[0], g, local);
        return 0;
    }
    default: {   /* a row: its partial for each input */
        const Row *row = &ROWS[node->kind];
        if (row->arity == 1) {
            double local = row->partial(node->data, p[0]->data, 0.0, 0);
            if (!isfinite(local) && row->can_fail && consult_rule(node) < 0)
                return -1;
            add(w, p[0], g, local);
            return 0;
        }
        if (row->arity == 2) {
            double x = p[0]->data, y = p[1]->data;
            double a = row->partial(node->data, x, y, 0), b = row->partial(node->data, x, y, 1);
            if (!(isfinite(a) && isfinite(b)) && row->can_fail && consult_rule(node) < 0)
                return -1;
            add(w, p[0], g, a);
            add(w, p[1], g, b);
            return 0;
        }
        return python_partials(w, node, g);
    }
    }
}

/* Python's reference walk, for what this one does not decide. */
static PyObject *reference_backward(Node *root, int create_graph)
{
    int was = pause_recording();
    PyObject *result = PyObject_CallFunction(g_backward, "OO", (PyObject *)root,
                                             create_graph ? Py_True : Py_False);
    recording = was;
    return result;
}

/* walk: engine.walk and engine.backward, in C. Sorts (taking each node), propagates in reverse
 * order with the sums in the walk's slots, checks the leaves, and only then writes every
 * .grad. On an error nothing has been written: every node is given back as it was. Rules
 * written in Python run in no_grad mode, once each, as in the reference. */
static PyObject *walk(Node *root)
{
    Walk w = {0};
    int status = walk_start(&w) < 0 ? 1 : topological_order(root, &w);
    if (status == 0 && w.n_leaves &&
        (w.got = PyMem_Malloc(w.n_leaves * sizeof(Node *))) == NULL) {
        PyErr_NoMemory();
        status = -1;
    }
    if (status != 0) {
        release_all(&w, 0);
        walk_free(&w);
        return status < 0 ? NULL : reference_backward(root, 0);
    }
    int mode = grad_disabled, was_recording = pause_recording();
    grad_disabled = 1;
    Py_ssize_t k = root->grad.i;
    w.sums[k] = 1.0;
    root->flags |= F_GOT;
    if (root->n == 0)
        w.got[w.n_got++] = root;
    for (Py_ssize_t i = w.n_order - 1; i >= 0; i--) {
        Node *node = ORDER(&w, i);
        k = node->grad.i;
        double g = (node->flags & F_GOT) ? w.sums[k] : 0.0;   /* complete now */
        if (!isfinite(g)) {
            raise_made(PyObject_CallFunction(g_gradient_error, "Od", (PyObject *)node, g));
            goto fail;
        }
        if (((w.n_order - i) & CHECK_SIGNALS_EVERY) == 0 && PyErr_CheckSignals() < 0)
            goto fail;
        if (propagate(&w, node, g) < 0)
            goto fail;
        w.sums[k] = g;
    }
    /* the leaves: as the reference, first any gradient that is not finite, then the totals */
    for (Py_ssize_t j = 0; j < w.n_got; j++) {
        double g = w.sums[w.got[j]->grad.i];
        if (!isfinite(g)) {
            raise_made(PyObject_CallFunction(g_leaf_error, "Od", (PyObject *)w.got[j], g));
            goto fail;
        }
    }
    for (Py_ssize_t j = 0; j < w.n_got; j++) {        /* leaves accumulate: old + new */
        Node *leaf = w.got[j];
        k = leaf->grad.i;
        double old = before(&w, leaf), g = w.sums[k];
        if (old != 0.0) {
            w.sums[k] = old + g;
            if (!isfinite(w.sums[k]) && isfinite(old)) {
                raise_made(PyObject_CallFunction(g_accumulate_error, "Od", (PyObject *)leaf, g));
                goto fail;
            }
        }
    }
    for (Py_ssize_t j = 0; j < w.n_leaves; j++) {        /* a leaf nothing reached: untouched */
        Node *leaf = w.leaves[j];
        if (!(leaf->flags & F_GOT))
            w.sums[leaf->grad.i] = before(&w, leaf);
    }
    grad_disabled = mode;
    recording = was_recording;
    release_all(&w, 1);
    walk_free(&w);
    Py_RETURN_NONE;
fail:
    grad_disabled = mode;
    recording = was_recording;
    release_all(&w, 0);
    walk_free(&w);
    return NULL;
}

static PyObject *Value_backward(Node *self, PyObject *const *args, Py_ssize_t nargs,
                                PyObject *kwnames)
{
    PyObject *create_graph = Py_False;
    if (one_optional("create_graph", args, nargs, kwnames, &create_graph) < 0)
        return reference_call_error("backward", self, args, nargs, kwnames);
    if (!configured())
        return NULL;
    int deep = PyObject_IsTrue(create_graph);
    if (deep < 0)
        return NULL;
    /* a recording holds the forward only: the reference's walk refuses it the same way */
    REFUSE_WHILE_RECORDING(self, "backward()", NULL);
    if (deep || self->kind == K_UNTRACKED)
        return reference_backward(self, deep);
    return walk(self);
}

/* Each docstring starts with its signature (CPython's __text_signature__ convention), so
 * inspect.signature, help() and Jupyter show the same parameters as the reference's methods. */
#define SIG(name, params, doc) name "($self" params ")\n--\n\n" doc
static PyMethodDef Value_methods[] = {
    {"exp", (PyCFunction)(void (*)(void))Value_exp, METH_FASTCALL | METH_KEYWORDS, SIG("exp", "", "e ** self. Value(0).exp().data == 1.0")},
    {"log", (PyCFunction)(void (*)(void))Value_log, METH_FASTCALL | METH_KEYWORDS,
     SIG("log", "", "Natural log; ValueError for inputs <= 0. Value(1).log().data == 0.0")},
    {"sqrt", (PyCFunction)(void (*)(void))Value_sqrt, METH_FASTCALL | METH_KEYWORDS,
     SIG("sqrt", "", "Square root; ValueError for negative inputs. Value(4).sqrt().data == 2.0")},
    {"sin", (PyCFunction)(void (*)(void))Value_sin, METH_FASTCALL | METH_KEYWORDS, SIG("sin", "", "Sine. Value(0).sin().data == 0.0")},
    {"cos", (PyCFunction)(void (*)(void))Value_cos, METH_FASTCALL | METH_KEYWORDS, SIG("cos", "", "Cosine. Value(0).cos().data == 1.0")},
    {"tanh", (PyCFunction)(void (*)(void))Value_tanh, METH_FASTCALL | METH_KEYWORDS,
     SIG("tanh", "", "Hyperbolic tangent. Value(0).tanh().data == 0.0")},
    {"sigmoid", (PyCFunction)(void (*)(void))Value_sigmoid, METH_FASTCALL | METH_KEYWORDS,
     SIG("sigmoid", "", "1 / (1 + e**-x), stable for any input. Value(0).sigmoid().data == 0.5")},
    {"softplus", (PyCFunction)(void (*)(void))Value_softplus, METH_FASTCALL | METH_KEYWORDS,
     SIG("softplus", "", "log(1 + e**x), stable for any input. Value(-1000).softplus().data == 0.0")},
    {"relu", (PyCFunction)(void (*)(void))Value_relu, METH_FASTCALL | METH_KEYWORDS, SIG("relu", "", "max(x, 0). Value(-2).relu().data == 0.0")},
    {"leaky_relu", (PyCFunction)(void (*)(void))Value_leaky_relu, METH_FASTCALL | METH_KEYWORDS,
     SIG("leaky_relu", ", slope=0.01",
         "x if x > 0 else slope * x. Value(-2).leaky_relu(0.1).data == -0.2")},
    {"gelu", (PyCFunction)(void (*)(void))Value_gelu, METH_FASTCALL | METH_KEYWORDS,
     SIG("gelu", "", "x Phi(x), the exact (erf) form. Value(0).gelu().data == 0.0")},
    {"erf", (PyCFunction)(void (*)(void))Value_erf, METH_FASTCALL | METH_KEYWORDS, SIG("erf", "", "The error function. Value(0).erf().data == 0.0")},
    {"abs", (PyCFunction)(void (*)(void))Value_abs, METH_FASTCALL | METH_KEYWORDS,
     SIG("abs", "", "|x|; its derivative at 0 is taken as 0. Value(-2).abs().data == 2.0")},
    {"item", (PyCFunction)(void (*)(void))Value_item, METH_FASTCALL | METH_KEYWORDS,
     SIG("item", "", "The plain float, as in PyTorch. Value(3).item() == 3.0")},
    {"detach", (PyCFunction)(void (*)(void))Value_detach, METH_FASTCALL | METH_KEYWORDS,
     SIG("detach", "", "A new leaf with the same data and no history. Value(2.0).detach().data == 2.0")},
    {"backward", (PyCFunction)(void (*)(void))Value_backward, METH_FASTCALL | METH_KEYWORDS,
     SIG("backward", ", create_graph=False",
         "Backpropagate from this Value: fill .grad of everything it was computed from.\n\n"
         ">>> a = Value(2.0); b = a * a; c = b * b\n>>> c.backward(); c.backward()\n"
         ">>> a.grad, b.grad\n(64.0, 8.0)\n")},
    {"__round__", (PyCFunction)(void (*)(void))Value_round, METH_FASTCALL | METH_KEYWORDS,
     SIG("__round__", ", ndigits=None", "round(v): the reference Value's __round__.")},
    {"__format__", (PyCFunction)(void (*)(void))Value_format, METH_FASTCALL | METH_KEYWORDS,
     SIG("__format__", ", format_spec, /", "format(v, spec): the reference Value's __format__.")},
    {"__reduce__", (PyCFunction)(void (*)(void))Value_reduce, METH_FASTCALL | METH_KEYWORDS,
     SIG("__reduce__", "", "A leaf pickles with its data, grad and label (see autograd.value.pickle_leaf).")},
    {"__deepcopy__", (PyCFunction)(void (*)(void))Value_deepcopy, METH_FASTCALL | METH_KEYWORDS,
     SIG("__deepcopy__", ", memo",
         "A copy of the graph behind this Value, of any depth (see autograd.value.copy_graph).")},
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
    .tp_free = PyObject_GC_Del,
};

/* --- apply ------------------------------------------------------------------------------------ */

static PyObject *apply_op(PyObject *op, Py_ssize_t n, PyObject *const *inputs)
{
    Family family;   /* a copy: the cache may change while the inputs are lifted */
    int kind = resolve(op, &family);
    if (kind < 0)
        return NULL;
    if (kind == K_LEAF || kind == K_UNTRACKED || !PyObject_TypeCheck(op, (PyTypeObject *)g_op_type))
        kind = K_PYTHON;   /* the reference says what is wrong (or what it means) */
    Node *small[SMALL], **nodes = small;
    if (n > SMALL && (nodes = PyMem_Malloc(n * sizeof(Node *))) == NULL)
        return PyErr_NoMemory();
    Py_ssize_t lifted = 0;
    PyObject *result = NULL;
    for (; lifted < n; lifted++)
        if ((nodes[lifted] = lift(inputs[lifted])) == NULL)
            goto done;
    result = record(op, kind, &family, n, nodes);
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

static PyObject *core_is_recording(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(recording);
}

static PyObject *core_set_recording(PyObject *module, PyObject *flag)
{
    int on = PyObject_IsTrue(flag);
    if (on < 0)
        return NULL;
    int previous = recording;
    g_recorders += on - previous;
    recording = on;
    return PyBool_FromLong(previous);
}

static int take(PyObject *from, const char *name, PyObject **slot)
{
    PyObject *value = PyObject_GetAttrString(from, name);
    if (value == NULL)
        return -1;
    Py_XSETREF(*slot, value);
    return 0;
}

/* from.name, or NULL in *slot when it has none (AttributeError); -1 on any other error */
static int take_optional(PyObject *from, const char *name, PyObject **slot)
{
    PyObject *value = PyObject_GetAttrString(from, name);
    if (value == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
    }
    Py_XSETREF(*slot, value);
    return 0;
}

/* The reference Value's method `name` (reference.reference_method(name)), or NULL in *slot
 * when it has none. */
static int take_method(const char *name, PyObject **slot)
{
    PyObject *method = PyObject_CallFunction(g_reference_method, "s", name);
    if (method == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
    }
    Py_XSETREF(*slot, method);
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

/* The names of the table's ops that have no row here: they run through their Python rules. */
static PyObject *g_python_ops;

/* op.always_defined, as a C flag: 1, 0, or -1 with an error set */
static int always_defined(PyObject *op)
{
    PyObject *flag = PyObject_GetAttr(op, g_str_always_defined);
    if (flag == NULL)
        return -1;
    int value = PyObject_IsTrue(flag);
    Py_DECREF(flag);
    return value;
}

/* Binds each row to the op of ops.OPS with its name, and takes the reference's functions. */
static int bind_rows(PyObject *ops)
{
    PyObject *table = PyObject_GetAttrString(ops, "OPS");
    if (table == NULL)
        return -1;
    if (!PyDict_Check(table)) {
        Py_DECREF(table);
        PyErr_SetString(PyExc_TypeError, "_configure: ops.OPS must be a dict");
        return -1;
    }
    PyObject *unbound = PyList_New(0);
    int status = unbound == NULL ? -1 : 0;
    for (int k = K_ADD; k < K_SINGLETONS && status == 0; k++) {
        PyObject *op = PyDict_GetItemString(table, ROWS[k].name);   /* borrowed: taken at once */
        if (k == K_TAKE || k == K_SHIFT) {   /* beside the table, bound by their names too */
            PyObject *beside = PyObject_GetAttrString(ops, k == K_TAKE ? "TAKE" : "SHIFT");
            if (beside == NULL) {
                status = -1;
                break;
            }
            PyObject *name = PyObject_GetAttr(beside, g_str_name);
            int named = name != NULL && PyUnicode_Check(name) &&
                        PyUnicode_CompareWithASCIIString(name, ROWS[k].name) == 0;
            Py_XDECREF(name);
            Py_DECREF(beside);   /* the module holds it */
            op = named ? beside : NULL;
        }
        if (op == NULL) {
            PyErr_Format(PyExc_RuntimeError, "_configure: ops.OPS has no op %s", ROWS[k].name);
            status = -1;
            break;
        }
        Py_XSETREF(g_ops[k], Py_NewRef(op));
        int defined = always_defined(op);
        if (defined < 0)
            status = -1;
        ROWS[k].can_fail = !defined;
    }
    /* every op of the table without a row: its name, so a test can list them */
    PyObject *name, *op;
    Py_ssize_t pos = 0;
    while (status == 0 && PyDict_Next(table, &pos, &name, &op))
        if (singleton_kind(op) < 0 && PyList_Append(unbound, name) < 0)
            status = -1;
    if (status == 0 && PyList_Sort(unbound) == 0) {
        Py_XSETREF(g_python_ops, PyList_AsTuple(unbound));
        status = g_python_ops ? 0 : -1;
    }
    Py_XDECREF(unbound);
    Py_DECREF(table);
    return status;
}

static int family_can_fail(PyObject *ops, const char *family, int kind)
{
    PyObject *member = PyObject_CallMethod(ops, family, NULL);
    if (member == NULL)
        return -1;
    int defined = always_defined(member);
    Py_DECREF(member);
    if (defined < 0)
        return -1;
    ROWS[kind].can_fail = !defined;
    return 0;
}

static PyObject *core_configure(PyObject *module, PyObject *args)
{
    PyObject *ops, *reference;
    if (!PyArg_ParseTuple(args, "OO:_configure", &ops, &reference))
        return NULL;
    if (take(ops, "LEAF", &g_ops[K_LEAF]) < 0 || take(ops, "UNTRACKED", &g_ops[K_UNTRACKED]) < 0 ||
        bind_rows(ops) < 0)
        return NULL;
    if (take(ops, "OPS", &g_table) < 0)
        return NULL;
    PyObject *glue = reference;
    if (take(ops, "Op", &g_op_type) < 0 || take(ops, "power", &g_power) < 0 ||
        take(ops, "leaky_relu", &g_leaky) < 0 || take(glue, "as_float", &g_as_float) < 0 ||
        take(glue, "check_value", &g_check_value) < 0 || take(glue, "forward", &g_forward) < 0 ||
        take(glue, "backward", &g_backward) < 0 || take(glue, "reduce", &g_reduce) < 0 ||
        take(glue, "deepcopy", &g_deepcopy) < 0 || take(glue, "as_number", &g_as_number) < 0 ||
        take(glue, "as_label", &g_as_label) < 0 ||
        take(glue, "reference_method", &g_reference_method) < 0 ||
        take(glue, "RULE_ERRORS", &g_rule_errors) < 0 || take(glue, "rule_error", &g_rule_error) < 0 ||
        take(glue, "rule_check", &g_rule_check) < 0 ||
        take(glue, "gradient_error", &g_gradient_error) < 0 ||
        take(glue, "leaf_error", &g_leaf_error) < 0 ||
        take(glue, "accumulate_error", &g_accumulate_error) < 0 ||
        take_double(ops, "SQRT1_2", &SQRT1_2) < 0 || take_double(ops, "SQRT2", &SQRT2) < 0 ||
        take_double(ops, "INV_SQRT_2PI", &INV_SQRT_2PI) < 0 ||
        take_double(ops, "TWO_OVER_SQRT_PI", &TWO_OVER_SQRT_PI) < 0 ||
        family_can_fail(ops, "leaky_relu", K_LEAKY) < 0)
        return NULL;
    if (take_optional(glue, "refuse", &g_refuse) < 0 ||
        take_method("__int__", &g_reference_int) < 0 ||
        take_method("__index__", &g_reference_index) < 0 ||
        take_method("__round__", &g_reference_round) < 0 ||
        take_method("__format__", &g_reference_format) < 0)
        return NULL;
    PyObject *square = PyObject_CallMethod(ops, "power", "d", 2.0);
    if (square == NULL)
        return NULL;
    int defined = always_defined(square);
    Py_DECREF(square);
    if (defined < 0)
        return NULL;
    ROWS[K_POWER].can_fail = !defined;
    Py_RETURN_NONE;
}

/* --- bulk transfer: read_floats / write_floats (autograd.recording) -------------------------- */

/* The twins of autograd.recording.py_read_floats and py_write_floats for the usual case: a list
 * or tuple of Values, the attribute "data" or "grad", and (to write) a contiguous buffer of
 * doubles or a list or tuple of floats, checked before anything is written. Anything else --
 * a mistake, another iterable, ints, a Value grad, a read of .data while recording -- goes to
 * the reference before anything is written, so its results and errors are the reference's. */
static PyObject *g_py_read_floats, *g_py_write_floats, *g_array_type;
static PyObject *g_zero_array;   /* array('d', [0.0]): a Program's values are repeats of it */
static PyObject *g_py_flatten, *g_str_list_token, *g_str_tuple_token;

static int bulk_functions(void)
{
    if (g_py_read_floats != NULL)
        return 0;
    PyObject *module = PyImport_ImportModule("autograd.recording");
    if (module == NULL)
        return -1;
    PyObject *read = PyObject_GetAttrString(module, "py_read_floats");
    PyObject *write = read ? PyObject_GetAttrString(module, "py_write_floats") : NULL;
    PyObject *flatten = write ? PyObject_GetAttrString(module, "py_flatten") : NULL;
    Py_DECREF(module);
    if (flatten == NULL) {
        Py_XDECREF(read);
        Py_XDECREF(write);
        return -1;
    }
    PyObject *array_module = write ? PyImport_ImportModule("array") : NULL;
    PyObject *array_type = array_module ? PyObject_GetAttrString(array_module, "array") : NULL;
    Py_XDECREF(array_module);
    PyObject *zero = array_type ? PyObject_CallFunction(array_type, "s[d]", "d", 0.0) : NULL;
    PyObject *list_token = zero ? PyUnicode_InternFromString("[") : NULL;
    PyObject *tuple_token = list_token ? PyUnicode_InternFromString("(") : NULL;
    if (tuple_token == NULL) {
        Py_XDECREF(list_token);
        Py_XDECREF(zero);
        Py_XDECREF(array_type);
        Py_XDECREF(read);
        Py_XDECREF(write);
        Py_XDECREF(flatten);
        return -1;
    }
    g_str_list_token = list_token;
    g_str_tuple_token = tuple_token;
    g_py_flatten = flatten;
    g_zero_array = zero;
    g_py_read_floats = read;
    g_py_write_floats = write;
    g_array_type = array_type;
    return 0;
}

/* 0 for "data", 1 for "grad", -1 for anything else (the reference says what is wrong) */
static int attribute_of(PyObject *attribute)
{
    if (!PyUnicode_CheckExact(attribute))
        return -1;
    if (PyUnicode_CompareWithASCIIString(attribute, "data") == 0)
        return 0;
    if (PyUnicode_CompareWithASCIIString(attribute, "grad") == 0)
        return 1;
    return -1;
}

static PyObject *core_read_floats(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    if (!configured() || bulk_functions() < 0)
        return NULL;
    if (nargs != 2 || kwnames != NULL)
        goto reference;
    PyObject *values = args[0];
    int grad = attribute_of(args[1]);
    if (grad < 0 || !(PyList_CheckExact(values) || PyTuple_CheckExact(values)))
        goto reference;
    if (!grad && UNLIKELY(g_recorders) && recording)
        goto reference;   /* refused, as the reference reads .data */
    Py_ssize_t n = PySequence_Fast_GET_SIZE(values);
    PyObject **items = PySequence_Fast_ITEMS(values);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!IS_NODE(items[i]) || (grad && (((Node *)items[i])->flags & F_GRAD_VALUE)))
            goto reference;
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(double));
    if (bytes == NULL)
        return NULL;
    double *out = (double *)PyBytes_AS_STRING(bytes);
    for (Py_ssize_t i = 0; i < n; i++) {
        Node *node = (Node *)items[i];
        out[i] = !grad ? node->data : node->walk ? held_grad(node) : node->grad.f;
    }
    PyObject *result = PyObject_CallFunction(g_array_type, "sO", "d", bytes);
    Py_DECREF(bytes);
    return result;
reference:
    return PyObject_Vectorcall(g_py_read_floats, args, nargs, kwnames);
}

static PyObject *core_write_floats(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    if (!configured() || bulk_functions() < 0)
        return NULL;
    if (nargs != 3 || kwnames != NULL)
        goto reference;
    PyObject *values = args[0], *numbers = args[2];
    int grad = attribute_of(args[1]);
    if (grad < 0 || !(PyList_CheckExact(values) || PyTuple_CheckExact(values)))
        goto reference;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(values);
    PyObject **items = PySequence_Fast_ITEMS(values);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!IS_NODE(items[i]) || ((Node *)items[i])->walk ||
            (grad && (((Node *)items[i])->flags & F_GRAD_VALUE)))
            goto reference;
    if (PyList_CheckExact(numbers) || PyTuple_CheckExact(numbers)) {
        if (PySequence_Fast_GET_SIZE(numbers) != n)
            goto reference;
        PyObject **given = PySequence_Fast_ITEMS(numbers);
        for (Py_ssize_t i = 0; i < n; i++)
            if (!PyFloat_CheckExact(given[i]) || (!grad && isnan(PyFloat_AS_DOUBLE(given[i]))))
                goto reference;
        for (Py_ssize_t i = 0; i < n; i++) {   /* no Python code runs from here on */
            double x = PyFloat_AS_DOUBLE(given[i]);
            if (grad)
                ((Node *)items[i])->grad.f = x;
            else
                ((Node *)items[i])->data = x;
        }
        Py_RETURN_NONE;
    }
    if (!PyObject_CheckBuffer(numbers))
        goto reference;
    Py_buffer view;
    if (PyObject_GetBuffer(numbers, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        goto reference;
    }
    /* from 3.12 a Python class can export a buffer (__buffer__): Python code may have run and
     * changed `values`, so its items are read and checked again */
    n = PySequence_Fast_GET_SIZE(values);
    items = PySequence_Fast_ITEMS(values);
    int fits = view.ndim == 1 && view.format != NULL && strcmp(view.format, "d") == 0 &&
               view.itemsize == (Py_ssize_t)sizeof(double) && view.len == n * view.itemsize;
    for (Py_ssize_t i = 0; fits && i < n; i++)
        if (!IS_NODE(items[i]) || ((Node *)items[i])->walk ||
            (grad && (((Node *)items[i])->flags & F_GRAD_VALUE)))
            fits = 0;
    const double *given = view.buf;
    for (Py_ssize_t i = 0; fits && !grad && i < n; i++)
        if (isnan(given[i]))
            fits = 0;
    if (fits)
        for (Py_ssize_t i = 0; i < n; i++) {
            if (grad)
                ((Node *)items[i])->grad.f = given[i];
            else
                ((Node *)items[i])->data = given[i];
        }
    PyBuffer_Release(&view);
    if (fits)
        Py_RETURN_NONE;
reference:
    return PyObject_Vectorcall(g_py_write_floats, args, nargs, kwnames);
}

/* --- Program: a recording replayed (autograd.recording) -------------------------------------- */

/* The twin of autograd.recording.PyProgram: a tape (autograd.recording.Tape: slots numbered
 * arguments, captured Values, constants, then one per instruction; instruction k computes
 * tape.ops[codes[k]] on the slots parents[starts[k]:starts[k + 1]]) resolved once into this
 * file's rows, then run forward and backward by one C loop each, with no Python object per
 * instruction. The passes are apply's and the walk's, on slots instead of nodes: the same
 * formulas, the same policies (a zero gradient passes nothing on, every rule that can fail is
 * evaluated, a gradient that is not finite raises, all or nothing), the same order of
 * accumulation, so the same bits. An op without a row (a user's, logsumexp) runs through its
 * Python rules, as in the eager core. Whenever something is not ordinary -- an error to build, a
 * captured Value whose .grad is a Value or is held by a walk -- the tape's own Python methods
 * (the reference's) decide, so the errors are the reference's letter for letter.
 *
 * A Program never changes after it is built: each call keeps its numbers in its own buffers, so
 * threads may replay one Program at once. */

typedef struct {
    Family family;        /* a family member's constant (and a neuron's activation) */
    int kind;             /* the op's kind, before its count of inputs is checked */
    int always_defined;   /* op.always_defined */
} OpInfo;

typedef struct {
    PyObject_HEAD
    PyObject *tape;               /* the recorder's Tape: its error builders */
    PyObject *ops;                /* tuple: tape.ops */
    PyObject *captured;           /* tuple of Values: tape.captured */
    PyObject *forward_numbers;    /* tape.forward_numbers: (op, [numbers]) -> number, or raises */
    PyObject *reference;          /* a PyProgram of the same tape, made when first needed */
    Py_ssize_t n_arguments, n_captured, first, n_slots, n_instructions, n_ops, n_parents;
    double *constants;            /* first - n_arguments - n_captured of them */
    OpInfo *info;                 /* by op code */
    uint8_t *kinds;               /* by instruction: its op's kind, K_PYTHON where the count misfits */
    uint32_t *codes;              /* by instruction: its op code */
    uint32_t *starts;             /* n_instructions + 1 */
    uint32_t *parents;
    uint32_t *zof;                /* by instruction: where a fused neuron keeps its pre-activation
                                   * after the slots (values[n_slots + zof[k]]), or UINT32_MAX */
    Py_ssize_t n_z;               /* how many numbers follow the slots in a forward's values */
    int has_python;               /* an instruction runs a Python rule: walk once, in order */
    uint32_t max_inputs;
} Program;

static PyTypeObject ProgramType;

static int Program_traverse(Program *self, visitproc visit, void *arg)
{
    Py_VISIT(self->tape);
    Py_VISIT(self->ops);
    Py_VISIT(self->captured);
    Py_VISIT(self->forward_numbers);
    Py_VISIT(self->reference);
    return 0;
}

static int Program_clear(Program *self)
{
    Py_CLEAR(self->tape);
    Py_CLEAR(self->ops);
    Py_CLEAR(self->captured);
    Py_CLEAR(self->forward_numbers);
    Py_CLEAR(self->reference);
    return 0;
}

static void Program_dealloc(Program *self)
{
    PyObject_GC_UnTrack(self);
    Program_clear(self);
    PyMem_Free(self->constants);
    PyMem_Free(self->info);
    PyMem_Free(self->kinds);
    PyMem_Free(self->codes);
    PyMem_Free(self->starts);
    PyMem_Free(self->parents);
    PyMem_Free(self->zof);
    PyObject_GC_Del(self);
}

static PyObject *malformed(const char *what)
{
    PyErr_Format(PyExc_ValueError, "Program: a malformed tape: %s", what);
    return NULL;
}

/* tape.<name>, an array of integers, as n uint32 (each checked to be >= 0): 0, or -1 with an
 * error set. */
static int tape_integers(PyObject *tape, const char *name, uint32_t **out, Py_ssize_t *n)
{
    PyObject *obj = PyObject_GetAttrString(tape, name);
    if (obj == NULL)
        return -1;
    Py_buffer view;
    int status = PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT);
    Py_DECREF(obj);
    if (status < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "Program: tape.%s must be an array of integers", name);
        return -1;
    }
    char f = view.format ? view.format[view.format[0] == '@' || view.format[0] == '=' ? 1 : 0]
                         : 'B';
    int is_int = f && strchr("bBhHiIlLqQnN", f) != NULL && view.ndim <= 1 &&
                 (view.itemsize == 1 || view.itemsize == 2 || view.itemsize == 4 ||
                  view.itemsize == 8);
    if (!is_int) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_TypeError, "Program: tape.%s must be an array of integers", name);
        return -1;
    }
    int is_signed = strchr("bhilqn", f) != NULL;
    Py_ssize_t count = view.len / view.itemsize;
    uint32_t *items = PyMem_Malloc((count ? count : 1) * sizeof(uint32_t));
    if (items == NULL) {
        PyBuffer_Release(&view);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        const char *at = (const char *)view.buf + i * view.itemsize;
        long long value;
        switch (view.itemsize) {
        case 1: value = is_signed ? *(const int8_t *)at : *(const uint8_t *)at; break;
        case 2: value = is_signed ? *(const int16_t *)at : *(const uint16_t *)at; break;
        case 4: value = is_signed ? *(const int32_t *)at : (long long)*(const uint32_t *)at; break;
        default: {
            uint64_t u;
            memcpy(&u, at, 8);
            value = is_signed ? (long long)u : (u > INT64_MAX ? -1 : (long long)u);
        }
        }
        if (value < 0 || value > (long long)UINT32_MAX - 1) {
            PyBuffer_Release(&view);
            PyMem_Free(items);
            PyErr_Format(PyExc_ValueError, "Program: a malformed tape: tape.%s[%zd] is %lld",
                         name, i, value);
            return -1;
        }
        items[i] = (uint32_t)value;
    }
    PyBuffer_Release(&view);
    *out = items;
    *n = count;
    return 0;
}

static int tape_size(PyObject *tape, const char *name, Py_ssize_t *out)
{
    PyObject *obj = PyObject_GetAttrString(tape, name);
    if (obj == NULL)
        return -1;
    *out = PyLong_AsSsize_t(obj);
    Py_DECREF(obj);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (*out < 0 || *out > (Py_ssize_t)UINT32_MAX - 1) {
        PyErr_Format(PyExc_ValueError, "Program: a malformed tape: tape.%s is %zd", name, *out);
        return -1;
    }
    return 0;
}

static PyObject *Program_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"tape", NULL};
    PyObject *tape;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Program", names, &tape))
        return NULL;
    if (!configured() || bulk_functions() < 0)
        return NULL;
    Program *self = PyObject_GC_New(Program, &ProgramType);
    if (self == NULL)
        return NULL;
    self->tape = Py_NewRef(tape);
    self->ops = self->captured = self->forward_numbers = self->reference = NULL;
    self->constants = NULL;
    self->info = NULL;
    self->kinds = NULL;
    self->codes = self->starts = self->parents = self->zof = NULL;
    self->n_z = 0;
    self->has_python = 0;
    self->max_inputs = 0;
    self->n_arguments = self->n_captured = self->first = self->n_slots = 0;
    self->n_instructions = self->n_ops = self->n_parents = 0;

    PyObject *ops = NULL, *captured = NULL, *constants = NULL;
    Py_ssize_t n_codes = 0, n_starts = 0, n_slots;
    if (tape_size(tape, "n_arguments", &self->n_arguments) < 0 ||
        tape_size(tape, "first_instruction", &self->first) < 0 ||
        tape_size(tape, "n_slots", &n_slots) < 0)
        goto fail;
    self->n_slots = n_slots;
    if ((ops = PyObject_GetAttrString(tape, "ops")) == NULL ||
        (self->ops = PySequence_Tuple(ops)) == NULL ||
        (captured = PyObject_GetAttrString(tape, "captured")) == NULL ||
        (self->captured = PySequence_Tuple(captured)) == NULL ||
        (self->forward_numbers = PyObject_GetAttrString(tape, "forward_numbers")) == NULL)
        goto fail;
    self->n_ops = PyTuple_GET_SIZE(self->ops);
    self->n_captured = PyTuple_GET_SIZE(self->captured);
    for (Py_ssize_t i = 0; i < self->n_captured; i++)
        if (!IS_NODE(PyTuple_GET_ITEM(self->captured, i))) {
            PyErr_Format(PyExc_TypeError, "Program: tape.captured[%zd] is a %.100s, not a Value",
                         i, Py_TYPE(PyTuple_GET_ITEM(self->captured, i))->tp_name);
            goto fail;
        }
    /* the constants: a buffer of doubles */
    if ((constants = PyObject_GetAttrString(tape, "constants")) == NULL)
        goto fail;
    Py_buffer view;
    if (PyObject_GetBuffer(constants, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "Program: tape.constants must be an array('d')");
        goto fail;
    }
    int doubles = view.format && strcmp(view.format, "d") == 0 && view.itemsize == 8;
    Py_ssize_t n_constants = doubles ? view.len / 8 : 0;
    if (doubles && (self->constants = PyMem_Malloc((n_constants ? n_constants : 1) * 8)) != NULL)
        memcpy(self->constants, view.buf, n_constants * 8);
    PyBuffer_Release(&view);
    if (!doubles) {
        PyErr_SetString(PyExc_TypeError, "Program: tape.constants must be an array('d')");
        goto fail;
    }
    if (self->constants == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    if (self->n_arguments + self->n_captured + n_constants != self->first) {
        malformed("first_instruction is not the count of arguments, captured Values and "
                  "constants");
        goto fail;
    }
    if (tape_integers(tape, "codes", &self->codes, &n_codes) < 0 ||
        tape_integers(tape, "starts", &self->starts, &n_starts) < 0 ||
        tape_integers(tape, "parents", &self->parents, &self->n_parents) < 0)
        goto fail;
    self->n_instructions = n_codes;
    if (n_slots != self->first + n_codes) {
        malformed("n_slots is not first_instruction plus the count of instructions");
        goto fail;
    }
    if (n_starts != n_codes + 1 || self->starts[0] != 0 ||
        self->starts[n_codes] != (uint32_t)self->n_parents) {
        malformed("starts must hold one start per instruction and the end of parents");
        goto fail;
    }
    /* each op resolved once to its row; each instruction's count checked against its op */
    if ((self->info = PyMem_Malloc((self->n_ops ? self->n_ops : 1) * sizeof(OpInfo))) == NULL ||
        (self->kinds = PyMem_Malloc(n_codes ? n_codes : 1)) == NULL ||
        (self->zof = PyMem_Malloc((n_codes ? n_codes : 1) * sizeof(uint32_t))) == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t c = 0; c < self->n_ops; c++) {
        PyObject *op = PyTuple_GET_ITEM(self->ops, c);
        OpInfo *info = &self->info[c];
        int kind = resolve(op, &info->family);
        if (kind < 0)
            goto fail;
        if (kind == K_LEAF || kind == K_UNTRACKED ||
            !PyObject_TypeCheck(op, (PyTypeObject *)g_op_type))
            kind = K_PYTHON;   /* its Python forward says what is wrong */
        info->kind = kind;
        info->family.op = NULL;   /* not needed: the tuple holds the op */
        int defined = always_defined(op);
        if (defined < 0) {
            if (kind != K_PYTHON)
                goto fail;
            PyErr_Clear();   /* not an Op: its forward raises first */
            defined = 0;
        }
        info->always_defined = defined;
    }
    for (Py_ssize_t k = 0; k < n_codes; k++) {
        uint32_t start = self->starts[k], end = self->starts[k + 1];
        if (end < start) {
            malformed("starts must not decrease");
            goto fail;
        }
        if (self->codes[k] >= (uint32_t)self->n_ops) {
            malformed("an instruction's op code is not an index of tape.ops");
            goto fail;
        }
        for (uint32_t i = start; i < end; i++)
            if (self->parents[i] >= (uint32_t)(self->first + k)) {
                malformed("an instruction reads a slot that is not computed before it");
                goto fail;
            }
        uint32_t n = end - start;
        if (n > self->max_inputs)
            self->max_inputs = n;
        int kind = fit_kind(self->info[self->codes[k]].kind, n);
        if ((kind == K_DOT && n < 2) || ((kind == K_AFFINE || kind == K_ACTIVATED) && n < 3))
            kind = K_PYTHON;   /* the rows read two inputs at least: the reference decides */
        self->kinds[k] = (uint8_t)kind;
        self->zof[k] = kind == K_ACTIVATED ? (uint32_t)self->n_z++ : UINT32_MAX;
        if (kind == K_PYTHON || kind == K_TAKE)   /* take: a changed index runs its rule */
            self->has_python = 1;
    }
    Py_DECREF(ops);
    Py_DECREF(captured);
    Py_DECREF(constants);
    PyObject_GC_Track(self);
    return (PyObject *)self;
fail:
    Py_XDECREF(ops);
    Py_XDECREF(captured);
    Py_XDECREF(constants);
    Py_DECREF(self);
    return NULL;
}

/* The reference replay of the same tape (autograd.recording.PyProgram), for what this one
 * hands over: made once, on first need. A borrowed reference, or NULL with an error set. */
static PyObject *reference_program(Program *self)
{
    if (self->reference == NULL) {
        PyObject *module = PyImport_ImportModule("autograd.recording");
        if (module == NULL)
            return NULL;
        PyObject *made = PyObject_CallMethod(module, "PyProgram", "O", self->tape);
        Py_DECREF(module);
        if (made == NULL)
            return NULL;
        if (self->reference == NULL)
            self->reference = made;
        else
            Py_DECREF(made);
    }
    return self->reference;
}

/* A buffer of n doubles (format "d"), taken into *view (writable if asked): 0, or -1 with a
 * TypeError or ValueError naming `what`. */
static int double_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t n, int writable,
                         const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "Program: %s must be a%s array('d'), got %.100s", what,
                     writable ? " writable" : "n", Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!view->format || strcmp(view->format, "d") != 0 || view->itemsize != 8 ||
        view->len != n * 8) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "Program: %s must be %zd doubles (an array('d'))", what,
                     n);
        return -1;
    }
    return 0;
}

/* a list of the numbers of the given slots */
static PyObject *numbers_list(const double *v, const uint32_t *slots, uint32_t n)
{
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *x = PyFloat_FromDouble(v[slots[i]]);
        if (x == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, x);
    }
    return list;
}

/* The instruction's number by its op's Python forward with apply's checks
 * (tape.forward_numbers): the reference computes or raises. */
static int program_reference_forward(Program *self, Py_ssize_t k, const double *v, double *out)
{
    const uint32_t *p = self->parents + self->starts[k];
    PyObject *inputs = numbers_list(v, p, self->starts[k + 1] - self->starts[k]);
    if (inputs == NULL)
        return -1;
    PyObject *op = PyTuple_GET_ITEM(self->ops, self->codes[k]);
    PyObject *number = PyObject_CallFunctionObjArgs(self->forward_numbers, op, inputs, NULL);
    Py_DECREF(inputs);
    if (number == NULL)
        return -1;
    *out = PyFloat_AsDouble(number);
    Py_DECREF(number);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* sum_of, dot and affine on the numbers of slots (the same operations in the same order) */
static double sum_slots(const double *v, const uint32_t *p, uint32_t n)
{
    Sum s = {0.0 + v[p[0]], 0.0};
    for (uint32_t i = 1; i < n; i++)
        sum_add(&s, v[p[i]]);
    return sum_total(&s);
}

static double dot_slots(const double *v, const uint32_t *p, uint32_t n)
{
    uint32_t h = n / 2;
    Sum s = {0.0 + v[p[0]] * v[p[h]], 0.0};
    for (uint32_t i = 1; i < h; i++)
        sum_add(&s, v[p[i]] * v[p[h + i]]);
    return sum_total(&s);
}

static double affine_slots(const double *v, const uint32_t *p, uint32_t count)
{
    uint32_t h = count / 2;
    Sum s = {0.0 + v[p[0]] * v[p[h]], 0.0};
    for (uint32_t i = 1; i < h; i++)
        sum_add(&s, v[p[i]] * v[p[h + i]]);
    sum_add(&s, v[p[count - 1]]);
    return sum_total(&s);
}

/* Program.forward(arguments): the number of every slot, as an array('d'). */
static PyObject *Program_forward(Program *self, PyObject *arguments)
{
    if (self->n_captured && UNLIKELY(g_recorders) && recording) {
        /* replayed inside a recording: the reference reads the captured Values' .data */
        PyObject *reference = reference_program(self);
        return reference ? PyObject_CallMethod(reference, "forward", "O", arguments) : NULL;
    }
    Py_buffer given;
    PyObject *converted = NULL;
    if (PyObject_GetBuffer(arguments, &given, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == 0 &&
        given.format && strcmp(given.format, "d") == 0 && given.itemsize == 8) {
        /* taken as it is */
    } else {
        if (PyErr_Occurred())
            PyErr_Clear();
        else
            PyBuffer_Release(&given);
        /* as the reference: array("d", arguments) */
        converted = PyObject_CallFunction(g_array_type, "sO", "d", arguments);
        if (converted == NULL)
            return NULL;
        if (PyObject_GetBuffer(converted, &given, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            Py_DECREF(converted);
            return NULL;
        }
    }
    if (given.len != self->n_arguments * 8) {
        PyErr_Format(PyExc_ValueError, "Program.forward: the recording takes %zd numbers, got %zd",
                     self->n_arguments, given.len / 8);
        PyBuffer_Release(&given);
        Py_XDECREF(converted);
        return NULL;
    }
    /* the result, computed in place: array('d', [0.0]) * count, written through its buffer */
    Py_buffer out;
    PyObject *values = PySequence_Repeat(g_zero_array, self->n_slots + self->n_z);
    if (values != NULL &&
        PyObject_GetBuffer(values, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        Py_CLEAR(values);
    double *x = values ? PyMem_Malloc((self->max_inputs ? self->max_inputs : 1) * sizeof(double))
                       : NULL;
    if (x == NULL) {
        PyBuffer_Release(&given);
        Py_XDECREF(converted);
        if (values != NULL) {
            PyBuffer_Release(&out);
            Py_DECREF(values);
            PyErr_NoMemory();
        }
        return NULL;
    }
    double *v = out.buf;
    memcpy(v, given.buf, self->n_arguments * 8);
    PyBuffer_Release(&given);
    Py_XDECREF(converted);
    double *at = v + self->n_arguments;
    for (Py_ssize_t i = 0; i < self->n_captured; i++)
        *at++ = ((Node *)PyTuple_GET_ITEM(self->captured, i))->data;
    memcpy(at, self->constants, (self->first - self->n_arguments - self->n_captured) * 8);

    const uint8_t *kinds = self->kinds;
    const uint32_t *starts = self->starts, *parents = self->parents, *codes = self->codes;
    for (Py_ssize_t k = 0; k < self->n_instructions; k++) {
        const uint32_t *p = parents + starts[k];
        int kind = kinds[k];
        double r;
        switch (kind) {   /* counts were checked when built (fit_kind) */
        case K_ADD: r = v[p[0]] + v[p[1]]; break;
        case K_SUB: r = v[p[0]] - v[p[1]]; break;
        case K_MUL: r = v[p[0]] * v[p[1]]; break;
        case K_ACTIVATED: {
            const Family *f = &self->info[codes[k]].family;
            r = affine_slots(v, p, starts[k + 1] - starts[k]);
            v[self->n_slots + self->zof[k]] = r;   /* z, for the backward pass */
            if (isfinite(r))
                r = ROWS[f->act_kind].forward(r, f->parameter);
            break;
        }
        case K_AFFINE: r = affine_slots(v, p, starts[k + 1] - starts[k]); break;
        case K_DOT: r = dot_slots(v, p, starts[k + 1] - starts[k]); break;
        case K_PYTHON: r = NAN; break;
        default: {
            const OpInfo *info = &self->info[codes[k]];
            uint32_t n = starts[k + 1] - starts[k];
            if (ROWS[kind].arity == 1) {
                r = ROWS[kind].forward(v[p[0]], info->family.parameter);
            } else if (ROWS[kind].arity == 2) {
                r = ROWS[kind].forward(v[p[0]], v[p[1]]);
            } else if (kind == K_SUM && n >= 1) {
                r = sum_slots(v, p, n);
            } else {
                for (uint32_t i = 0; i < n; i++)
                    x[i] = v[p[i]];
                r = compute(kind, &info->family, n, x);
            }
        }
        }
        if (UNLIKELY(!isfinite(r))) {   /* NaN, an infinity, or no row: the reference decides */
            if (program_reference_forward(self, k, v, &r) < 0)
                goto fail;
        }
        v[self->first + k] = r;
        if (((k + 1) & CHECK_SIGNALS_EVERY) == 0 && PyErr_CheckSignals() < 0)
            goto fail;
    }
    PyMem_Free(x);
    PyBuffer_Release(&out);
    return values;
fail:
    PyMem_Free(x);
    PyBuffer_Release(&out);
    Py_DECREF(values);
    return NULL;
}

/* One backward pass. The sums by slot start at -0.0, so the first product is kept as it is
 * (-0.0 + x is x, for -0.0 too), as the reference's dict starts a sum with it; `reached` says
 * which slots a product reached (1) and which the walk passed (2). In order (`got` not NULL),
 * the pass also lists the slots in the order their sums began, as the reference's dict: the
 * ends' errors are raised in that order. */
typedef struct {
    Program *program;
    PyObject *values_obj;   /* the values array, for the error builders */
    const double *v;
    const double *z;        /* the fused neurons' pre-activations, or NULL: recomputed */
    double *sums;
    uint32_t *reached;      /* not a char type: its stores alias nothing else of the pass */
    uint32_t *got;
    Py_ssize_t n_got;
} Pass;

enum { R_NONE = 0, R_SUM = 1, R_PASSED = 2 };

static inline void pass_add(Pass *w, uint32_t parent, double g, double local)
{
    if (local != 0.0 && g != 0.0) {
        w->sums[parent] += g * local;
        if (UNLIKELY(w->got != NULL) && w->reached[parent] == R_NONE)
            w->got[w->n_got++] = parent;
        w->reached[parent] = R_SUM;
    }
}

/* A rule that raised at slot s: a RULE_ERRORS error is named by tape.node_error (anything
 * else, Ctrl-C included, passes unchanged). Returns -1. */
static int pass_rule_failed(Pass *w, Py_ssize_t s)
{
    if (!PyErr_ExceptionMatches(g_rule_errors))
        return -1;
    PyObject *error = take_raised();
    return raise_from_none(
        PyObject_CallMethod(w->program->tape, "node_error", "nOO", s, w->values_obj, error), error);
}

/* A row gave a derivative that is not finite where the reference's rule may raise instead:
 * tape.rule_check says (None: it does not). */
static int pass_consult_rule(Pass *w, Py_ssize_t s)
{
    PyObject *error = PyObject_CallMethod(w->program->tape, "rule_check", "nO", s, w->values_obj);
    if (error == NULL)
        return -1;
    if (error == Py_None) {
        Py_DECREF(error);
        return 0;
    }
    return raise_made(error);
}

/* op.partials(out, [inputs]) for an op without a row, checked as the reference checks it. */
static int pass_python_partials(Pass *w, Py_ssize_t s, double g)
{
    Program *P = w->program;
    Py_ssize_t k = s - P->first;
    const uint32_t *p = P->parents + P->starts[k];
    uint32_t n = P->starts[k + 1] - P->starts[k];
    if (g == 0.0 && P->info[P->codes[k]].always_defined)
        return 0;
    PyObject *op = PyTuple_GET_ITEM(P->ops, P->codes[k]);
    PyObject *datas = numbers_list(w->v, p, n);
    if (datas == NULL)
        return -1;
    PyObject *out = PyFloat_FromDouble(w->v[s]);
    PyObject *partials = out ? PyObject_CallMethodObjArgs(op, g_str_partials, out, datas, NULL)
                             : NULL;
    Py_XDECREF(out);
    Py_DECREF(datas);
    if (partials == NULL)
        return pass_rule_failed(w, s);
    double small[SMALL];
    double *locals = n <= SMALL ? small : PyMem_Malloc(n * sizeof(double));
    if (locals == NULL) {
        Py_DECREF(partials);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t m = rule_locals(partials, n, locals);
    Py_DECREF(partials);
    if (m >= 0 && g != 0.0)
        for (Py_ssize_t i = 0; i < m; i++)   /* all checked first, as the reference does */
            pass_add(w, p[i], g, locals[i]);
    if (locals != small)
        PyMem_Free(locals);
    return m < 0 ? pass_rule_failed(w, s) : 0;
}


/* propagate(), on slots: each parent's share of slot s's gradient g */
static int pass_propagate(Pass *w, Py_ssize_t s, double g)
{
    Program *P = w->program;
    Py_ssize_t k = s - P->first;
    const uint32_t *p = P->parents + P->starts[k];
    uint32_t n = P->starts[k + 1] - P->starts[k];
    const double *v = w->v;
    int kind = P->kinds[k];
    switch (kind) {
    case K_ADD: pass_add(w, p[0], g, 1.0); pass_add(w, p[1], g, 1.0); return 0;
    case K_SUB: pass_add(w, p[0], g, 1.0); pass_add(w, p[1], g, -1.0); return 0;
    case K_MUL: {
        double x = v[p[0]], y = v[p[1]];
        pass_add(w, p[0], g, y);
        pass_add(w, p[1], g, x);
        return 0;
    }
    case K_SUM:
        for (uint32_t i = 0; i < n; i++)
            pass_add(w, p[i], g, 1.0);
        return 0;
    case K_DOT: {
        uint32_t h = n / 2;
        for (uint32_t i = 0; i < h; i++)
            pass_add(w, p[i], g, v[p[h + i]]);
        for (uint32_t i = 0; i < h; i++)
            pass_add(w, p[h + i], g, v[p[i]]);
        return 0;
    }
    case K_AFFINE: {
        uint32_t h = n / 2;
        for (uint32_t i = 0; i < h; i++)
            pass_add(w, p[i], g, v[p[h + i]]);
        for (uint32_t i = 0; i < h; i++)
            pass_add(w, p[h + i], g, v[p[i]]);
        pass_add(w, p[n - 1], g, 1.0);
        return 0;
    }
    case K_ACTIVATED: {
        const Family *f = &P->info[P->codes[k]].family;
        uint32_t h = n / 2;
        double z = w->z ? w->z[P->zof[k]] : affine_slots(v, p, n);
        double slope = unary_partial(f->act_kind, f->parameter, v[s], z);
        if (!isfinite(slope) && ROWS[f->act_kind].can_fail && pass_consult_rule(w, s) < 0)
            return -1;
        if (g == 0.0 || slope == 0.0)   /* a relu that is off: no products needed */
            return 0;
        if (w->got == NULL) {   /* the hot loop of a network: pass_add, with g != 0 known */
            double *sums = w->sums;
            uint32_t *reached = w->reached;
            for (uint32_t i = 0; i < h; i++) {
                double local = v[p[h + i]] * slope;
                if (local != 0.0) {
                    sums[p[i]] += g * local;
                    reached[p[i]] = R_SUM;
                }
            }
            for (uint32_t i = 0; i < h; i++) {
                double local = v[p[i]] * slope;
                if (local != 0.0) {
                    sums[p[h + i]] += g * local;
                    reached[p[h + i]] = R_SUM;
                }
            }
            pass_add(w, p[n - 1], g, slope);
            return 0;
        }
        for (uint32_t i = 0; i < h; i++)
            pass_add(w, p[i], g, v[p[h + i]] * slope);
        for (uint32_t i = 0; i < h; i++)
            pass_add(w, p[h + i], g, v[p[i]] * slope);
        pass_add(w, p[n - 1], g, slope);
        return 0;
    }
    case K_POWER:
    case K_LEAKY: {
        double local = unary_partial(kind, P->info[P->codes[k]].family.parameter, v[s], v[p[0]]);
        if (!isfinite(local) && ROWS[kind].can_fail && pass_consult_rule(w, s) < 0)
            return -1;
        pass_add(w, p[0], g, local);
        return 0;
    }
    case K_TAKE: {
        Py_ssize_t position = take_position(v[p[0]], n - 1);
        if (position < 0)
            return pass_python_partials(w, s, g);
        pass_add(w, p[1 + position], g, 1.0);
        return 0;
    }
    case K_SHIFT:
        return 0;
    case K_PYTHON:
        return pass_python_partials(w, s, g);
    default: {
        const Row *row = &ROWS[kind];
        if (row->arity == 1) {
            double local = row->partial(v[s], v[p[0]], 0.0, 0);
            if (!isfinite(local) && row->can_fail && pass_consult_rule(w, s) < 0)
                return -1;
            pass_add(w, p[0], g, local);
            return 0;
        }
        if (row->arity == 2) {
            double x = v[p[0]], y = v[p[1]];
            double a = row->partial(v[s], x, y, 0), b = row->partial(v[s], x, y, 1);
            if (!(isfinite(a) && isfinite(b)) && row->can_fail && pass_consult_rule(w, s) < 0)
                return -1;
            pass_add(w, p[0], g, a);
            pass_add(w, p[1], g, b);
            return 0;
        }
        return pass_python_partials(w, s, g);
    }
    }
}

/* The walk over `order` from `root` (the sums reset first). 0, or -1 with the reference's
 * error for a rule that failed or a gradient that is not finite. */
static int pass_walk(Pass *w, const uint32_t *order, Py_ssize_t n_order, Py_ssize_t root)
{
    Program *self = w->program;
    for (Py_ssize_t s = 0; s < self->n_slots; s++)
        w->sums[s] = -0.0;
    memset(w->reached, 0, self->n_slots * sizeof(uint32_t));   /* R_NONE */
    w->n_got = 0;
    w->sums[root] = 1.0;
    w->reached[root] = R_SUM;
    if (w->got != NULL)
        w->got[w->n_got++] = (uint32_t)root;
    for (Py_ssize_t i = 0; i < n_order; i++) {
        uint32_t s = order[i];
        double g = w->sums[s];   /* complete now (-0.0 where nothing arrived: passes nothing) */
        w->reached[s] = R_PASSED;
        if (!isfinite(g))
            return raise_made(PyObject_CallMethod(self->tape, "gradient_error", "nOd",
                                                  (Py_ssize_t)s, w->values_obj, g));
        if (((i + 1) & CHECK_SIGNALS_EVERY) == 0 && PyErr_CheckSignals() < 0)
            return -1;
        if (g == 0.0 && self->info[self->codes[s - self->first]].always_defined)
            continue;   /* nothing to pass on, and its rule cannot fail */
        if (pass_propagate(w, s, g) < 0)
            return -1;
    }
    return 0;
}

/* The ends' checks, then their totals (old + new, kept in sums), as engine.backward: first any
 * gradient that is not finite, then a total that overflows. 0 when all pass; otherwise 1, or
 * (with `raise`) -1 with the reference's error for the first end at fault. */
static int pass_totals(Pass *w, const uint32_t *ends, Py_ssize_t n_ends, double *grads,
                       PyObject *grads_obj, int raise)
{
    Program *self = w->program;
    Py_ssize_t low = self->n_arguments, high = self->n_arguments + self->n_captured;
    for (Py_ssize_t j = 0; j < n_ends; j++) {
        uint32_t s = ends[j];
        if (!isfinite(w->sums[s]))
            return !raise ? 1
                          : raise_made(PyObject_CallMethod(self->tape, "end_error", "ndOO",
                                                           (Py_ssize_t)s, w->sums[s],
                                                           w->values_obj, grads_obj));
    }
    for (Py_ssize_t j = 0; j < n_ends; j++) {
        uint32_t s = ends[j];
        double old = (low <= s && s < high)
                         ? ((Node *)PyTuple_GET_ITEM(self->captured, s - low))->grad.f
                         : grads[s];
        double g = w->sums[s];
        if (old != 0.0) {
            double total = old + g;
            if (!isfinite(total) && isfinite(old))
                return !raise ? 1
                              : raise_made(PyObject_CallMethod(self->tape, "accumulate_error",
                                                               "ndOO", (Py_ssize_t)s, g,
                                                               w->values_obj, grads_obj));
            w->sums[s] = total;
        }
    }
    return 0;
}

/* Whether an end is a captured Value whose .grad is a Value (create_graph) or is held by an
 * eager walk (a replay from inside a rule): the reference then takes the whole backward, as it
 * reads and writes .grad through the attribute. */
static int ends_need_the_reference(Program *self, const uint32_t *ends, Py_ssize_t n_ends)
{
    Py_ssize_t low = self->n_arguments, high = self->n_arguments + self->n_captured;
    for (Py_ssize_t j = 0; j < n_ends; j++) {
        uint32_t s = ends[j];
        if (low <= s && s < high) {
            Node *leaf = (Node *)PyTuple_GET_ITEM(self->captured, s - low);
            if (leaf->walk || (leaf->flags & F_GRAD_VALUE))
                return 1;
        }
    }
    return 0;
}

/* the ends: the slots a product reached that the walk did not pass, in the order their sums
 * began (in order) or by slot; returns their count */
static Py_ssize_t pass_ends(Pass *w, uint32_t *ends)
{
    Py_ssize_t n = 0;
    if (w->got != NULL) {
        for (Py_ssize_t j = 0; j < w->n_got; j++)
            if (w->reached[w->got[j]] == R_SUM)
                ends[n++] = w->got[j];
    } else {
        for (Py_ssize_t s = 0; s < w->program->n_slots; s++)
            if (w->reached[s] == R_SUM)
                ends[n++] = (uint32_t)s;
    }
    return n;
}

/* Program.backward(values, root, order, grads): the eager walk from slot `root` over the
 * instruction slots of `order` (root first, as tape.walk_order gives it); the ends accumulate,
 * the captured Values into their .grad, the other slots into `grads`. All or nothing.
 *
 * The walk does not keep the order in which the ends' sums began, which only says which error
 * comes first: when an end is at fault, it walks again in order to raise the reference's. A
 * program with a Python rule walks in order at once (its rule runs once). */
static PyObject *Program_backward(Program *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError,
                     "Program.backward(values, root, order, grads) takes 4 arguments, got %zd",
                     nargs);
        return NULL;
    }
    PyObject *values_obj = args[0], *order_obj = args[2], *grads_obj = args[3];
    Py_ssize_t root = PyLong_AsSsize_t(args[1]);
    if (root == -1 && PyErr_Occurred())
        return NULL;
    if (root < 0 || root >= self->n_slots) {
        PyErr_Format(PyExc_IndexError, "Program.backward: root %zd is not a slot (0 to %zd)", root,
                     self->n_slots - 1);
        return NULL;
    }
    Py_buffer values, grads;
    uint32_t *order = NULL, *ends = NULL, *got = NULL;
    Py_ssize_t n_order = 0;
    int status;
    /* values: this program's forward (the slots, then the neurons' pre-activations) or the
     * slots alone (the pre-activations are then recomputed) */
    if (PyObject_GetBuffer(values_obj, &values, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "Program: values must be an array('d'), got %.100s",
                     Py_TYPE(values_obj)->tp_name);
        return NULL;
    }
    if (!values.format || strcmp(values.format, "d") != 0 || values.itemsize != 8 ||
        (values.len != self->n_slots * 8 && values.len != (self->n_slots + self->n_z) * 8)) {
        PyBuffer_Release(&values);
        PyErr_Format(PyExc_ValueError, "Program: values must be %zd doubles (an array('d'))",
                     self->n_slots);
        return NULL;
    }
    if (double_buffer(grads_obj, &grads, self->n_slots, 1, "grads") < 0) {
        PyBuffer_Release(&values);
        return NULL;
    }
    PyObject *result = NULL;
    const double *v = values.buf;
    Pass w = {self, values_obj, v, values.len > self->n_slots * 8 ? v + self->n_slots : NULL,
              NULL, NULL, NULL, 0};
    /* the order: an array of instruction slots */
    {
        Py_buffer view;
        if (PyObject_GetBuffer(order_obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "Program.backward: order must be an array('i')");
            goto done;
        }
        if (!view.format || !((strcmp(view.format, "i") == 0 && view.itemsize == 4) ||
                              ((strcmp(view.format, "l") == 0 || strcmp(view.format, "q") == 0) &&
                               view.itemsize == 8))) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_TypeError, "Program.backward: order must be an array('i')");
            goto done;
        }
        n_order = view.len / view.itemsize;
        order = PyMem_Malloc((n_order ? n_order : 1) * sizeof(uint32_t));
        if (order == NULL) {
            PyBuffer_Release(&view);
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n_order; i++) {
            long long s = view.itemsize == 4 ? ((const int32_t *)view.buf)[i]
                                             : ((const int64_t *)view.buf)[i];
            if (s < self->first || s >= self->n_slots) {
                PyBuffer_Release(&view);
                PyErr_Format(PyExc_ValueError,
                             "Program.backward: order[%zd] = %lld is not an instruction's slot",
                             i, s);
                goto done;
            }
            order[i] = (uint32_t)s;
        }
        PyBuffer_Release(&view);
    }
    w.sums = PyMem_Malloc(self->n_slots * sizeof(double));
    w.reached = PyMem_Malloc(self->n_slots * sizeof(uint32_t));
    ends = PyMem_Malloc((self->n_slots + 1) * sizeof(uint32_t));
    if (w.sums == NULL || w.reached == NULL || ends == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int in_order = self->has_python;
    if (in_order && (w.got = got = PyMem_Malloc((self->n_slots + 1) * sizeof(uint32_t))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int mode = grad_disabled;
    status = 0;
    for (Py_ssize_t i = 0; i < self->n_captured && !status; i++) {
        /* the reference will take it: it must run the rules, once */
        Node *leaf = (Node *)PyTuple_GET_ITEM(self->captured, i);
        status = (leaf->walk || (leaf->flags & F_GRAD_VALUE)) ? 2 : 0;
    }
    if (status == 2)
        goto reference;
    grad_disabled = 1;   /* the rules run in no_grad(), as engine.walk and PyProgram run them */
    status = pass_walk(&w, order, n_order, root);
    grad_disabled = mode;
    if (status < 0)
        goto done;
    Py_ssize_t n_ends = pass_ends(&w, ends);
    /* Nothing was written. From the check of the ends to the writes no Python code runs but
     * to build an error (or in a second walk, after which the ends are checked again). */
    double *g_out = grads.buf;
    Py_ssize_t low = self->n_arguments, high = self->n_arguments + self->n_captured;
    status = ends_need_the_reference(self, ends, n_ends) ? 2
             : pass_totals(&w, ends, n_ends, g_out, grads_obj, in_order);
    if (status == 1) {   /* an end at fault: walk again in order, to raise the first error */
        if ((w.got = got = PyMem_Malloc((self->n_slots + 1) * sizeof(uint32_t))) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        grad_disabled = 1;
        status = pass_walk(&w, order, n_order, root);
        grad_disabled = mode;
        if (status == 0) {
            n_ends = pass_ends(&w, ends);
            status = ends_need_the_reference(self, ends, n_ends) ? 2
                     : pass_totals(&w, ends, n_ends, g_out, grads_obj, 1);
        }
    }
    if (status == 2) {
    reference:;
        PyObject *reference = reference_program(self);
        if (reference != NULL)
            result = PyObject_CallMethod(reference, "backward", "OnOO", values_obj, root,
                                         order_obj, grads_obj);
        goto done;
    }
    if (status < 0)
        goto done;
    for (Py_ssize_t j = 0; j < n_ends; j++) {   /* all checked: written */
        uint32_t s = ends[j];
        if (low <= s && s < high)
            ((Node *)PyTuple_GET_ITEM(self->captured, s - low))->grad.f = w.sums[s];
        else
            g_out[s] = w.sums[s];
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&values);
    PyBuffer_Release(&grads);
    PyMem_Free(order);
    PyMem_Free(ends);
    PyMem_Free(got);
    PyMem_Free(w.sums);
    PyMem_Free(w.reached);
    return result;
}

static PyObject *Program_sizeof(Program *self, PyObject *unused)
{
    size_t bytes = sizeof(Program) + (self->first - self->n_arguments - self->n_captured) * 8 +
                   self->n_ops * sizeof(OpInfo) +
                   self->n_instructions * (1 + 2 * sizeof(uint32_t)) +
                   (self->n_instructions + 1) * sizeof(uint32_t) +
                   self->n_parents * sizeof(uint32_t);
    return PyLong_FromSize_t(bytes);
}

static PyObject *Program_get_n_slots(Program *self, void *closure)
{
    return PyLong_FromSsize_t(self->n_slots);
}

static PyObject *Program_get_tape(Program *self, void *closure) { return Py_NewRef(self->tape); }

static PyMethodDef Program_methods[] = {
    {"forward", (PyCFunction)Program_forward, METH_O,
     "forward($self, arguments, /)\n--\n\n"
     "The number of every slot of the tape (an array('d')), from the arguments' numbers (an "
     "array('d')) and the captured Values' .data: apply's steps, instruction by instruction."},
    {"backward", (PyCFunction)(void (*)(void))Program_backward, METH_FASTCALL,
     "backward($self, values, root, order, grads, /)\n--\n\n"
     "The eager walk from slot root over the slots of order (root first); the ends accumulate: "
     "the captured Values into .grad, the other slots into grads (an array('d')). All or "
     "nothing, with the eager walk's errors."},
    {"__sizeof__", (PyCFunction)Program_sizeof, METH_NOARGS,
     "The bytes the program holds (its arrays included)."},
    {NULL},
};

static PyGetSetDef Program_getset[] = {
    {"n_slots", (getter)Program_get_n_slots, NULL, "The count of slots: numbers of a replay.", NULL},
    {"tape", (getter)Program_get_tape, NULL, "The tape this program replays.", NULL},
    {NULL},
};

PyDoc_STRVAR(Program_doc,
"Program(tape)\n--\n\n"
"A recording (autograd.recording.Tape) replayed in C: the compiled twin of\n"
"autograd.recording.PyProgram, with the same results bit for bit and the same errors.");

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "autograd._core.Program",
    .tp_basicsize = sizeof(Program),
    .tp_dealloc = (destructor)Program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = Program_doc,
    .tp_traverse = (traverseproc)Program_traverse,
    .tp_clear = (inquiry)Program_clear,
    .tp_methods = Program_methods,
    .tp_getset = Program_getset,
    .tp_new = Program_new,
};

/* --- flatten: the shape and the numbers of a compiled function's arguments ------------------ */

/* The twin of autograd.recording.py_flatten for arguments made of lists, tuples, floats (not
 * NaN) and ints that fit a float: the same tokens (depth first, "[" or "(" and the length for
 * a container, None for a number) and the same numbers. Anything else goes to py_flatten for
 * the whole call. While it reads the arguments nothing but PyMem memory is allocated (no
 * Python code can run and change them); the tokens are made afterwards. */
typedef struct { Py_ssize_t *items; Py_ssize_t n, cap; } Codes;   /* -1 number, -2 "[", -3 "(" */

static int codes_push(Codes *c, Py_ssize_t code)
{
    if (c->n == c->cap) {
        Py_ssize_t cap = c->cap ? 2 * c->cap : 64;
        Py_ssize_t *items = PyMem_Realloc(c->items, cap * sizeof(Py_ssize_t));
        if (items == NULL)
            return -1;
        c->items = items;
        c->cap = cap;
    }
    c->items[c->n++] = code;
    return 0;
}

static PyObject *core_flatten(PyObject *module, PyObject *arguments)
{
    if (!configured() || bulk_functions() < 0)
        return NULL;
    Codes codes = {NULL, 0, 0};
    double *numbers = NULL;
    Py_ssize_t n_numbers = 0, cap_numbers = 0, top = 0, cap_stack = 64;
    PyObject **stack = PyMem_Malloc(cap_stack * sizeof(PyObject *));   /* borrowed */
    int status = stack == NULL ? -1 : 0;   /* -1 out of memory, 1 not ours */
    if (stack != NULL)
        stack[top++] = arguments;
    while (status == 0 && top) {
        PyObject *x = stack[--top];
        double number;
        if (PyFloat_CheckExact(x) || PyLong_CheckExact(x)) {
            if (PyFloat_CheckExact(x)) {
                number = PyFloat_AS_DOUBLE(x);
                if (isnan(number)) {
                    status = 1;
                    break;
                }
            } else {
                number = PyLong_AsDouble(x);
                if (number == -1.0 && PyErr_Occurred()) {
                    PyErr_Clear();
                    status = 1;
                    break;
                }
            }
            if (n_numbers == cap_numbers) {
                Py_ssize_t cap = cap_numbers ? 2 * cap_numbers : 64;
                double *bigger = PyMem_Realloc(numbers, cap * sizeof(double));
                if (bigger == NULL) {
                    status = -1;
                    break;
                }
                numbers = bigger;
                cap_numbers = cap;
            }
            numbers[n_numbers++] = number;
            if (codes_push(&codes, -1) < 0)
                status = -1;
        } else if (PyList_CheckExact(x) || PyTuple_CheckExact(x)) {
            Py_ssize_t n = PySequence_Fast_GET_SIZE(x);
            if (codes_push(&codes, PyList_CheckExact(x) ? -2 : -3) < 0 ||
                codes_push(&codes, n) < 0) {
                status = -1;
                break;
            }
            if (top + n > cap_stack) {
                while (cap_stack < top + n)
                    cap_stack *= 2;
                PyObject **bigger = PyMem_Realloc(stack, cap_stack * sizeof(PyObject *));
                if (bigger == NULL) {
                    status = -1;
                    break;
                }
                stack = bigger;
            }
            PyObject **items = PySequence_Fast_ITEMS(x);
            for (Py_ssize_t i = n - 1; i >= 0; i--)   /* reversed: the first is read first */
                stack[top++] = items[i];
        } else {
            status = 1;
        }
    }
    PyMem_Free(stack);
    PyObject *result = NULL;
    if (status == 1) {
        PyMem_Free(codes.items);
        PyMem_Free(numbers);
        return PyObject_CallOneArg(g_py_flatten, arguments);
    }
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *tokens = PyTuple_New(codes.n);
    if (tokens == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < codes.n; i++) {
        Py_ssize_t code = codes.items[i];
        PyObject *token;
        if (code == -1)
            token = Py_NewRef(Py_None);
        else if (code == -2 || code == -3)
            token = Py_NewRef(code == -2 ? g_str_list_token : g_str_tuple_token);
        else if ((token = PyLong_FromSsize_t(code)) == NULL) {
            Py_DECREF(tokens);
            goto done;
        }
        PyTuple_SET_ITEM(tokens, i, token);
    }
    PyObject *array = PySequence_Repeat(g_zero_array, n_numbers);
    Py_buffer view;
    if (array != NULL && PyObject_GetBuffer(array, &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        Py_CLEAR(array);
    if (array == NULL) {
        Py_DECREF(tokens);
        goto done;
    }
    if (n_numbers)
        memcpy(view.buf, numbers, n_numbers * sizeof(double));
    PyBuffer_Release(&view);
    result = PyTuple_Pack(2, tokens, array);
    Py_DECREF(tokens);
    Py_DECREF(array);
done:
    PyMem_Free(codes.items);
    PyMem_Free(numbers);
    return result;
}

static PyObject *core_python_ops(PyObject *module, PyObject *unused)
{
    if (!configured())
        return NULL;
    return Py_NewRef(g_python_ops);
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
    {"is_recording", core_is_recording, METH_NOARGS,
     "is_recording()\n--\n\nWhether this thread is recording a function (autograd.compile): reading "
     "a Value's number is then refused."},
    {"set_recording", core_set_recording, METH_O,
     "set_recording(flag)\n--\n\nSet this thread's recording flag; returns the previous setting."},
    {"read_floats", (PyCFunction)(void (*)(void))core_read_floats, METH_FASTCALL | METH_KEYWORDS,
     "read_floats(values, attribute)\n--\n\n"
     "The .data or .grad of every Value of values, as an array('d') (autograd.recording).\n\n"
     ">>> from autograd import Value\n>>> from autograd.recording import read_floats\n"
     ">>> read_floats([Value(1.0), Value(2.5)], \"data\")\narray('d', [1.0, 2.5])\n"},
    {"write_floats", (PyCFunction)(void (*)(void))core_write_floats, METH_FASTCALL | METH_KEYWORDS,
     "write_floats(values, attribute, numbers)\n--\n\n"
     "Set the .data or .grad of every Value of values from numbers, all checked first "
     "(autograd.recording).\n\n"
     ">>> from autograd import Value\n>>> from autograd.recording import write_floats\n"
     ">>> xs = [Value(0.0), Value(0.0)]\n>>> write_floats(xs, \"data\", [1.0, 2.5]); [x.data for x in xs]\n"
     "[1.0, 2.5]\n"},
    {"flatten", core_flatten, METH_O,
     "flatten(arguments)\n--\n\n"
     "The shape and the numbers of a compiled function's arguments (autograd.recording's "
     "py_flatten, in C).\n\n"
     ">>> from autograd.recording import flatten\n>>> flatten(([1.0, 2], 3.5))\n"
     "(('(', 2, '[', 2, None, None, None), array('d', [1.0, 2.0, 3.5]))\n"},
    {"python_ops", core_python_ops, METH_NOARGS,
     "python_ops()\n--\n\nThe names of the op table's ops that run through their Python rules "
     "(no C row)."},
    {"_configure", core_configure, METH_VARARGS,
     "_configure(ops, reference): the op table and the reference's functions "
     "(autograd.value._REFERENCE), in one call."},
    {NULL},
};

/* The core keeps its state (the op table and the reference's functions, received by
 * `_configure`) in this library, once per process, so it serves the main interpreter only. A
 * sub-interpreter's import is refused with ImportError, so autograd runs on the reference there
 * (autograd._compiled.reason says why) and the main interpreter's state is never replaced by
 * objects of an interpreter that is later destroyed. */
static int core_exec(PyObject *module)
{
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_ImportError,
                        "autograd._core serves the main interpreter only; in a sub-interpreter "
                        "autograd runs on its pure-Python reference");
        return -1;
    }
    if (PyType_Ready(&ValueType) < 0 || PyType_Ready(&ProgramType) < 0)
        return -1;
    if (g_labels == NULL) {   /* once per process, even if the module is imported again */
        g_labels = PyDict_New();
        g_empty = PyUnicode_FromString("");
        g_str_partials = PyUnicode_InternFromString("partials");
        g_str_name = PyUnicode_InternFromString("name");
        g_str_native = PyUnicode_InternFromString("native");
        g_str_always_defined = PyUnicode_InternFromString("always_defined");
        if (!g_labels || !g_empty || !g_str_partials || !g_str_name || !g_str_native ||
            !g_str_always_defined)
            return -1;
    }
    if (PyModule_AddObjectRef(module, "Program", (PyObject *)&ProgramType) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "Value", (PyObject *)&ValueType);
}

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, core_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "autograd._core",
    "The compiled twin of autograd.value (see autograd/_compiled.py).", 0, core_methods,
    core_slots,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&core_module); }
