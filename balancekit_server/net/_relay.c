/* The TCP relay's hot loop: take a batch from the epoll set and move what linked
 * sockets read straight into their peers, without entering Python per event.
 *
 * Why C: in a keep-alive request the kernel does the real work (two recv and two
 * send calls, the same as HAProxy), so the rest is what decides the ratio.  Going
 * through Python per event cost a list of (fd, events) tuples per batch, a dict
 * lookup, three method calls and a float for the clock per read.  Here a batch of
 * linked reads costs one call: each read goes through one static buffer into the
 * peer socket, and the bytes moved and the time of the last move are counted per
 * descriptor, for the session to collect when it needs them (a timeout, its byte
 * counts, its log line).  The GIL is held throughout: nothing here blocks or calls
 * back into Python, and the buffer is never held across calls.
 *
 * A descriptor is in the table from link() to unlink().  Its entry holds the peer
 * and the events poller.py keeps in the epoll set for it (mark()): a read goes
 * straight through only while both sockets want nothing but reads, that is, neither
 * is closing, paused, at EOF or holding a backlog.  Every other event goes back to
 * Python, with the outcome of a read already made when there was one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#define BUFFER_SIZE 65536
#define MAX_EVENTS 1024

struct link {
    int active;      /* between link() and unlink() */
    int peer;        /* -1 once the peer is gone */
    uint32_t mask;   /* the events poller.py keeps in the epoll set for this socket */
    unsigned long long moved; /* bytes read from this socket and passed on, not yet taken */
    double stamp;    /* when the last move was, on time.monotonic()'s clock */
};

/* Shared by every caller: the GIL is never released while they hold data. */
static char buffer[BUFFER_SIZE];
static struct epoll_event events[MAX_EVENTS];
static struct link *links;
static size_t nlinks;

static struct link *entry(long fd) {
    if (fd < 0 || (size_t)fd >= nlinks) {
        return NULL;
    }
    return &links[fd];
}

static struct link *linked(long fd) {
    struct link *l = entry(fd);
    return l != NULL && l->active ? l : NULL;
}

/* Read from src once and send it to dst.  NULL: done (moved, or nothing to read),
 * with the count in `moved`.  Otherwise a new reference to what Python must finish:
 *
 *   0            src reached EOF (nothing read)
 *   bytes        dst took only part: the rest, for dst's write buffer
 *   int errno    sending failed (dst is gone, so are the bytes)
 *   OSError      reading failed
 *
 * On a Python error (memory), sets it and returns NULL with *failed set. */
static PyObject *step(int src, int dst, unsigned long long *moved, int *failed) {
    ssize_t got;
    *moved = 0;
    do {
        got = recv(src, buffer, BUFFER_SIZE, MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return NULL;
        }
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", errno, strerror(errno));
        *failed = exc == NULL;
        return exc;
    }
    if (got == 0) {
        return PyLong_FromLong(0);
    }
    *moved = (unsigned long long)got;
    ssize_t sent;
    do {
        sent = send(dst, buffer, (size_t)got, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return PyLong_FromLong(errno);
        }
        sent = 0;
    }
    if (sent == got) {
        return NULL;
    }
    PyObject *rest = PyBytes_FromStringAndSize(buffer + sent, got - sent);
    *failed = rest == NULL;
    return rest;
}

/* The clock of time.monotonic() and asyncio's loop.time() (uvloop's reads the
 * same clock, to the millisecond), read at most once per batch: 0 until then. */
static double monotonic(double *now) {
    if (*now == 0.0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        *now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    return *now;
}

/* Read src once into dst (see step) and count what moved on src's entry. */
static PyObject *step_counted(int src, int dst, double *now, int *failed) {
    unsigned long long moved;
    PyObject *outcome = step(src, dst, &moved, failed);
    struct link *l = linked(src);
    if (l != NULL && moved) {
        l->moved += moved;
        l->stamp = monotonic(now);
    }
    return outcome;
}

static int parse_args(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t count,
                      const char *usage, long *out) {
    if (nargs != count) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        out[i] = PyLong_AsLong(args[i]);
    }
    return PyErr_Occurred() ? -1 : 0;
}

/* link(fd, peer, mask): relay what fd reads into peer from now on (until unlink). */
static PyObject *link_(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    long v[3];
    if (parse_args(args, nargs, 3, "link(fd, peer, mask)", v) < 0) {
        return NULL;
    }
    if (v[0] < 0 || v[1] < 0) {
        PyErr_SetString(PyExc_ValueError, "link() needs two open descriptors");
        return NULL;
    }
    if ((size_t)v[0] >= nlinks) {
        size_t size = nlinks ? nlinks : 1024;
        while (size <= (size_t)v[0]) {
            size *= 2;
        }
        struct link *grown = PyMem_Realloc(links, size * sizeof *grown);
        if (grown == NULL) {
            return PyErr_NoMemory();
        }
        memset(grown + nlinks, 0, (size - nlinks) * sizeof *grown);
        links = grown;
        nlinks = size;
    }
    struct link *l = &links[v[0]];
    l->active = 1;
    l->peer = (int)v[1];
    l->mask = (uint32_t)v[2];
    l->moved = 0;
    l->stamp = 0.0;
    Py_RETURN_NONE;
}

/* mark(fd, mask): the events the epoll set now holds for a linked fd. */
static PyObject *mark(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    long v[2];
    if (parse_args(args, nargs, 2, "mark(fd, mask)", v) < 0) {
        return NULL;
    }
    struct link *l = linked(v[0]);
    if (l != NULL) {
        l->mask = (uint32_t)v[1];
    }
    Py_RETURN_NONE;
}

static PyObject *counts(struct link *l) {
    PyObject *result = Py_BuildValue("(Kd)", l->moved, l->stamp);
    l->moved = 0;
    return result;
}

static PyObject *no_counts(void) { return Py_BuildValue("(id)", 0, 0.0); }

/* take(fd) -> (moved, stamp): what fd passed on since the last take, and when. */
static PyObject *take(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    long fd;
    if (parse_args(args, nargs, 1, "take(fd)", &fd) < 0) {
        return NULL;
    }
    struct link *l = linked(fd);
    return l != NULL ? counts(l) : no_counts();
}

/* unlink(fd) -> (moved, stamp): take, then forget fd, and fd as its peer's peer
 * (its number will be reused by another socket). */
static PyObject *unlink_(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    long fd;
    if (parse_args(args, nargs, 1, "unlink(fd)", &fd) < 0) {
        return NULL;
    }
    struct link *l = linked(fd);
    if (l == NULL) {
        return no_counts();
    }
    struct link *peer = linked(l->peer);
    if (peer != NULL && peer->peer == fd) {
        peer->peer = -1;
    }
    PyObject *result = counts(l);
    l->active = 0;
    l->peer = -1;
    return result;
}

/* relay(src, dst) -> outcome: one read of a linked src by Python (see step). */
static PyObject *relay(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    long fds[2];
    if (parse_args(args, nargs, 2, "relay(src, dst)", fds) < 0) {
        return NULL;
    }
    double now = 0.0;
    int failed = 0;
    PyObject *outcome = step_counted((int)fds[0], (int)fds[1], &now, &failed);
    if (failed) {
        return NULL;
    }
    return outcome != NULL ? outcome : Py_NewRef(Py_None);
}

/* (fd, events, outcome), taking the reference to outcome. */
static PyObject *left_event(int fd, uint32_t events, PyObject *outcome) {
    PyObject *item = PyTuple_New(3);
    PyObject *number = PyLong_FromLong(fd);
    PyObject *mask = PyLong_FromUnsignedLong(events);
    if (item == NULL || number == NULL || mask == NULL) {
        Py_XDECREF(item);
        Py_XDECREF(number);
        Py_XDECREF(mask);
        Py_DECREF(outcome);
        return NULL;
    }
    PyTuple_SET_ITEM(item, 0, number);
    PyTuple_SET_ITEM(item, 1, mask);
    PyTuple_SET_ITEM(item, 2, outcome);
    return item;
}

/* pump(epfd) -> [(fd, events, outcome)]: one batch from the epoll set.  Reads of
 * linked sockets are made here; what is left is for Python, `outcome` None when
 * nothing was read yet.  Usually the list is empty. */
static PyObject *pump(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    long epfd;
    if (parse_args(args, nargs, 1, "pump(epfd)", &epfd) < 0) {
        return NULL;
    }
    double now = 0.0;
    int n;
    do {
        n = epoll_wait((int)epfd, events, MAX_EVENTS, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *left = PyList_New(0);
    if (left == NULL) {
        return NULL;
    }
    /* Every event is handled or handed over, even after an error, so none is lost. */
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        uint32_t ev = events[i].events;
        PyObject *outcome = Py_NewRef(Py_None);
        struct link *l = linked(fd);
        if (l != NULL && l->peer >= 0 && l->mask == EPOLLIN && (ev & EPOLLIN) &&
            !(ev & (EPOLLERR | EPOLLHUP))) {
            struct link *peer = linked(l->peer);
            if (peer != NULL && peer->mask == EPOLLIN) {
                int failed = 0;
                Py_DECREF(outcome);
                outcome = step_counted(fd, l->peer, &now, &failed);
                if (failed) {
                    Py_DECREF(left);
                    return NULL;
                }
                if (outcome == NULL) {
                    continue;
                }
            }
        }
        PyObject *item = left_event(fd, ev, outcome);
        if (item == NULL || PyList_Append(left, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(left);
            return NULL;
        }
        Py_DECREF(item);
    }
    return left;
}

static PyMethodDef methods[] = {
    {"pump", (PyCFunction)(void (*)(void))pump, METH_FASTCALL,
     "pump(epfd): take a batch from the epoll set (see _relay.c)."},
    {"relay", (PyCFunction)(void (*)(void))relay, METH_FASTCALL,
     "relay(src, dst): one read of src passed on to dst (see _relay.c)."},
    {"link", (PyCFunction)(void (*)(void))link_, METH_FASTCALL,
     "link(fd, peer, mask): relay what fd reads into peer."},
    {"mark", (PyCFunction)(void (*)(void))mark, METH_FASTCALL,
     "mark(fd, mask): the events the epoll set holds for a linked fd."},
    {"take", (PyCFunction)(void (*)(void))take, METH_FASTCALL,
     "take(fd) -> (moved, stamp): bytes passed on since the last take, and when."},
    {"unlink", (PyCFunction)(void (*)(void))unlink_, METH_FASTCALL,
     "unlink(fd) -> (moved, stamp): take, then forget fd."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_relay", "The TCP relay's hot loop (see _relay.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__relay(void) { return PyModule_Create(&module); }
