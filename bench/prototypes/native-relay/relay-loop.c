// Prototype B/C (issue #18, target 5): the C relay on Node's own event loop (uv_poll on dups of
// the two sockets), so no thread hand-off; bytes after the ClientHello never reach JavaScript.
// C: a direction whose read fills the 16 KiB buffer switches to splice() through a pipe.
// B: the same built with -DNO_SPLICE (read/write only). Measurement only: no idle timeout, no
// live byte counts, no reset side; see README.md.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 16384
typedef struct conn conn;
typedef struct { uv_poll_t poll; conn *c; int idx; } side;
struct conn {
  uint32_t id;
  int fd[2];
  side sides[2];
  int mask[2];
  char buf[2][BUF];
  size_t len[2], off[2];
  int eof[2], shut[2];
  double bytes[2];
  int failed, done, closing;
  int pr[2], pw[2];   // splice pipe per direction once a read filled the buffer; -1 before
  size_t plen[2];
};

static napi_env genv;
static napi_ref cbref;
static uv_loop_t *loop;

static void on_close(uv_handle_t *h) {
  side *s = (side *)h;
  conn *c = s->c;
  if (--c->closing == 0) {
    close(c->fd[0]);
    close(c->fd[1]);
    for (int d = 0; d < 2; d++) if (c->pr[d] >= 0) { close(c->pr[d]); close(c->pw[d]); }
    napi_handle_scope scope;
    napi_open_handle_scope(genv, &scope);
    napi_value argv[4], cb, undef;
    napi_create_uint32(genv, c->id, &argv[0]);
    napi_create_double(genv, c->bytes[0], &argv[1]);
    napi_create_double(genv, c->bytes[1], &argv[2]);
    napi_get_boolean(genv, c->failed, &argv[3]);
    napi_get_undefined(genv, &undef);
    napi_get_reference_value(genv, cbref, &cb);
    napi_call_function(genv, undef, cb, 4, argv, NULL);
    napi_close_handle_scope(genv, scope);
    free(c);
  }
}

static void finish(conn *c) {
  c->done = 1;
  if (c->failed) {
    struct linger l = { 1, 0 };
    setsockopt(c->fd[0], SOL_SOCKET, SO_LINGER, &l, sizeof l);
    setsockopt(c->fd[1], SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  c->closing = 2;
  uv_close((uv_handle_t *)&c->sides[0].poll, on_close);
  uv_close((uv_handle_t *)&c->sides[1].poll, on_close);
}

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
    if (c->plen[d] > 0) {
      ssize_t w = splice(c->pr[d], NULL, dst, NULL, c->plen[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (w < 0) return errno == EAGAIN ? 0 : -1;
      c->plen[d] -= (size_t)w;
      c->bytes[d] += (double)w;
      continue;
    }
    if (c->eof[d]) {
      if (!c->shut[d]) { shutdown(dst, SHUT_WR); c->shut[d] = 1; }
      return 0;
    }
    if (c->pr[d] >= 0) {
      ssize_t r = splice(src, NULL, c->pw[d], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (r > 0) { c->plen[d] = (size_t)r; continue; }
      if (r == 0) { c->eof[d] = 1; continue; }
      return errno == EAGAIN ? 0 : -1;
    }
    ssize_t r = read(src, c->buf[d], BUF);
    if (r > 0) {
      c->len[d] = (size_t)r;
#ifndef NO_SPLICE
      if (r == BUF) {  // a bulk transfer: splice from now on
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
          fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
          c->pr[d] = p[0]; c->pw[d] = p[1];
        }
      }
#endif
      continue;
    }
    if (r == 0) { c->eof[d] = 1; continue; }
    return errno == EAGAIN ? 0 : -1;
  }
}

static void on_poll(uv_poll_t *h, int status, int events);

static void rearm(conn *c) {
  for (int i = 0; i < 2; i++) {
    int want = 0;
    if (!c->eof[i] && c->len[i] == 0 && c->plen[i] == 0) want |= UV_READABLE;
    if (c->len[1 - i] > c->off[1 - i] || c->plen[1 - i] > 0) want |= UV_WRITABLE;
    if (want != c->mask[i]) {
      if (want == 0) uv_poll_stop(&c->sides[i].poll);
      else uv_poll_start(&c->sides[i].poll, want, on_poll);
      c->mask[i] = want;
    }
  }
}

static void step(conn *c) {
  if (c->done) return;
  if (pump(c, 0) < 0 || pump(c, 1) < 0) { c->failed = 1; finish(c); return; }
  if (c->shut[0] && c->shut[1]) { finish(c); return; }
  rearm(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  side *s = (side *)h;
  if (status < 0) { s->c->failed = 1; if (!s->c->done) finish(s->c); return; }
  step(s->c);
}

static napi_value init(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  genv = env;
  napi_create_reference(env, argv[0], 1, &cbref);
  napi_get_uv_event_loop(env, &loop);
  return NULL;
}

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
  if (headLen > BUF) headLen = BUF;
  memcpy(c->buf[0], head, headLen);
  c->len[0] = headLen;
  c->pr[0] = c->pr[1] = c->pw[0] = c->pw[1] = -1;
  for (int i = 0; i < 2; i++) {
    c->sides[i].c = c; c->sides[i].idx = i;
    uv_poll_init_socket(loop, &c->sides[i].poll, c->fd[i]);
  }
  step(c);  // writes the head now; arms the polls
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
