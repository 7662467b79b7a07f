/* A CPython extension module that does not declare free-threading support: it has no
 * Py_mod_gil slot, as every extension built before CPython 3.13 and many built since.
 * Importing it into a free-threaded interpreter makes CPython turn the GIL back on,
 * with a RuntimeWarning naming the module. tests/workload_gil.rs builds it with gcc
 * against the free-threaded interpreter's headers (its sysconfig INCLUDEPY, whose
 * pyconfig.h defines Py_GIL_DISABLED) and imports it from a workload. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *answer(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyLong_FromLong(42);
}

static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "Return 42."},
    {NULL, NULL, 0, NULL},
};

/* Multi-phase initialisation with no Py_mod_gil slot: "uses the GIL". */
static PyModuleDef_Slot slots[] = {
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gil_needing_module", "Needs the GIL (declares nothing).", 0,
    methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_gil_needing_module(void) { return PyModuleDef_Init(&module); }
