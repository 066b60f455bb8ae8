// Prototype A (issue #18, target 5): relay two already-connected TCP sockets in a C thread (its
// own epoll), so that the bytes after the ClientHello never pass through JavaScript; finished
// connections are reported through a thread-safe function. Measurement only; see README.md.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 16384
typedef struct conn conn;
typedef struct { conn *c; int idx; } side;
struct conn {
  uint32_t id;
  int fd[2];            // 0 = client, 1 = upstream
  side sides[2];
  uint32_t mask[2];     // current epoll interest per fd
  char buf[2][BUF];     // buf[d]: bytes read from fd[d], to be written to fd[1-d]
  size_t len[2], off[2];
  int eof[2], shut[2];
  double bytes[2];      // written to fd[1-d]
  int failed;
  int done;
  conn *next_free;
};
typedef struct { uint32_t id; double up, down; int failed; } done_msg;

static int ep = -1;
static napi_threadsafe_function tsfn;
static pthread_t thread;
static conn *to_free;  // finished in this epoll batch: freed after it (another event may name it)

static void finish(conn *c) {
  if (c->failed) {
    struct linger l = { 1, 0 };
    setsockopt(c->fd[0], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    setsockopt(c->fd[1], SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close(c->fd[0]);
  close(c->fd[1]);
  done_msg *m = malloc(sizeof *m);
  m->id = c->id; m->up = c->bytes[0]; m->down = c->bytes[1]; m->failed = c->failed;
  c->done = 1;
  c->next_free = to_free;
  to_free = c;
  napi_call_threadsafe_function(tsfn, m, napi_tsfn_nonblocking);
}

// Moves what it can in direction d (fd[d] -> fd[1-d]); returns -1 on error.
static int pump(conn *c, int d) {
  int src = c->fd[d], dst = c->fd[1 - d];
  for (;;) {
    if (c->off[d] < c->len[d]) {
      ssize_t w = write(dst, c->buf[d] + c->off[d], c->len[d] - c->off[d]);
      if (w < 0) return errno == EAGAIN ? 0 : -1;
      c->off[d] += (size_t)w;
      c->bytes[d] += (double)w;
      continue;
    }
    c->off[d] = c->len[d] = 0;
    if (c->eof[d]) {
      if (!c->shut[d]) { shutdown(dst, SHUT_WR); c->shut[d] = 1; }
      return 0;
    }
    ssize_t r = read(src, c->buf[d], BUF);
    if (r > 0) { c->len[d] = (size_t)r; continue; }
    if (r == 0) { c->eof[d] = 1; continue; }
    return errno == EAGAIN ? 0 : -1;
  }
}

static void rearm(conn *c) {
  for (int i = 0; i < 2; i++) {
    uint32_t want = 0;
    if (!c->eof[i] && c->len[i] == 0) want |= EPOLLIN;           // fd[i] as source
    if (c->len[1 - i] > c->off[1 - i]) want |= EPOLLOUT;          // fd[i] as destination
    if (want != c->mask[i]) {
      struct epoll_event ev = { .events = want, .data.ptr = &c->sides[i] };
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd[i], &ev);
      c->mask[i] = want;
    }
  }
}

static void step(conn *c) {
  if (pump(c, 0) < 0 || pump(c, 1) < 0) { c->failed = 1; finish(c); return; }
  if (c->shut[0] && c->shut[1]) { finish(c); return; }
  rearm(c);
}

static void *loop(void *arg) {
  (void)arg;
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn *c = ((side *)evs[i].data.ptr)->c;
      if (!c->done) step(c);
    }
    while (to_free != NULL) { conn *c = to_free; to_free = c->next_free; free(c); }
  }
  return NULL;
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  done_msg *m = data;
  if (env != NULL) {
    napi_value argv[4], undef;
    napi_create_uint32(env, m->id, &argv[0]);
    napi_create_double(env, m->up, &argv[1]);
    napi_create_double(env, m->down, &argv[2]);
    napi_get_boolean(env, m->failed, &argv[3]);
    napi_get_undefined(env, &undef);
    napi_call_function(env, undef, cb, 4, argv, NULL);
  }
  free(m);
}

// init(onDone(id, up, down, failed))
static napi_value init(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1], name;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_create_string_utf8(env, "native-relay", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &tsfn);
  napi_unref_threadsafe_function(env, tsfn);
  ep = epoll_create1(EPOLL_CLOEXEC);
  pthread_create(&thread, NULL, loop, NULL);
  return NULL;
}

// start(id, clientFd, upstreamFd, head: Buffer) -> true; dups the fds, the caller closes its own.
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t id; int32_t fc, fu; void *head; size_t headLen;
  napi_get_value_uint32(env, argv[0], &id);
  napi_get_value_int32(env, argv[1], &fc);
  napi_get_value_int32(env, argv[2], &fu);
  napi_get_buffer_info(env, argv[3], &head, &headLen);
  conn *c = calloc(1, sizeof *c);
  c->id = id;
  c->fd[0] = fcntl(fc, F_DUPFD_CLOEXEC, 0);
  c->fd[1] = fcntl(fu, F_DUPFD_CLOEXEC, 0);
  if (headLen > BUF) headLen = BUF;  // prototype: the ClientHello fits
  memcpy(c->buf[0], head, headLen);
  c->len[0] = headLen;
  for (int i = 0; i < 2; i++) {
    c->sides[i].c = c; c->sides[i].idx = i;
    c->mask[i] = EPOLLIN | EPOLLOUT;
    struct epoll_event ev = { .events = c->mask[i], .data.ptr = &c->sides[i] };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[i], &ev);
  }
  napi_get_boolean(env, 1, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "init", NULL, init, NULL, NULL, NULL, napi_default, NULL },
    { "start", NULL, start, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, d);
  return exports;
}
NAPI_MODULE(native_relay, Init)
