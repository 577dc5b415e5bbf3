/* The eBPF mode's stand-in in a build without it (make SENSOR=0, or no
 * clang, bpftool, libbpf or kernel BTF when stoat was built; mk/sensor.mk
 * picks this file or ebpf.c). Opening always fails with the build's reason,
 * so sensor_open goes on to the fallback and the mode line says why eBPF is
 * missing; nothing here links libbpf.
 */
#include "sensor/sensor_int.h"

#include <errno.h>
#include <stdio.h>

#ifndef SENSOR_NO_EBPF_WHY
#define SENSOR_NO_EBPF_WHY "built without it"
#endif

int ebpf_open(struct sensor *s, size_t ringbuf_bytes, char *errbuf, size_t errlen)
{
    (void)s;
    (void)ringbuf_bytes;
    snprintf(errbuf, errlen, "this stoat has no eBPF sensor (%s)", SENSOR_NO_EBPF_WHY);
    return -ENOTSUP;
}

int ebpf_poll(struct sensor *s, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    return -ENOTSUP;
}

void ebpf_stats(const struct sensor *s, struct sensor_stats *st)
{
    (void)s;
    (void)st;
}

void ebpf_close(struct sensor *s)
{
    (void)s;
}
