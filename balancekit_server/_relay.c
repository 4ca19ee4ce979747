/* One step of a TCP relay between two non-blocking sockets, without the GIL dance.
 *
 * Why C: moving a keep-alive request through Python costs a 64 KiB bytes object
 * (malloc, then a shrinking realloc), argument parsing for recv() and send(), and
 * a release and re-acquire of the GIL around each of those two system calls,
 * although on a non-blocking socket neither can block.  Here the bytes go through
 * one static buffer and the GIL is held throughout, which is safe because nothing
 * in between can block or call back into Python.  poller.py uses this when it is
 * built, and reads and writes through the socket objects when it is not.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <sys/socket.h>

#define BUFFER_SIZE 65536

/* Shared by every caller: the GIL is never released while it holds data. */
static char buffer[BUFFER_SIZE];

/* relay(src, dst) -> int | tuple
 *
 *   n > 0            n bytes read from src, all sent to dst
 *   0                src reached EOF (nothing read)
 *   -1               src had nothing to read
 *   (n, rest)        n bytes read, dst took only part: `rest` for the caller to buffer
 *   (n, errno)       n bytes read, sending them failed (dst is gone, so are they)
 *
 * A read error raises OSError.
 */
static PyObject *relay(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "relay(src, dst) takes two descriptors");
        return NULL;
    }
    long src = PyLong_AsLong(args[0]);
    long dst = PyLong_AsLong(args[1]);
    if ((src == -1 || dst == -1) && PyErr_Occurred()) {
        return NULL;
    }
    ssize_t got;
    do {
        got = recv((int)src, buffer, BUFFER_SIZE, MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return PyLong_FromLong(-1);
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (got == 0) {
        return PyLong_FromLong(0);
    }
    ssize_t sent;
    do {
        sent = send((int)dst, buffer, (size_t)got, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return Py_BuildValue("(ni)", (Py_ssize_t)got, errno);
        }
        sent = 0;
    }
    if (sent == got) {
        return PyLong_FromSsize_t(got);
    }
    return Py_BuildValue("(ny#)", (Py_ssize_t)got, buffer + sent, (Py_ssize_t)(got - sent));
}

static PyMethodDef methods[] = {
    {"relay", (PyCFunction)(void (*)(void))relay, METH_FASTCALL,
     "relay(src, dst): move what src has ready to dst (see _relay.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_relay", "One step of a TCP relay (see _relay.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__relay(void) { return PyModule_Create(&module); }
