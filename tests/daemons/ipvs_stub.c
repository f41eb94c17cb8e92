/*
 * ipvs_stub.c: an LD_PRELOAD library that makes keepalived's checker
 * process believe the kernel has IPVS, and records what keepalived asks
 * IPVS to do. Used by tests/daemons.rs on machines (and in namespaces)
 * without the ip_vs module.
 *
 *   gcc -shared -fPIC -o ipvs_stub.so ipvs_stub.c
 *   IPVS_STUB_LOG=/tmp/x/ipvs.log LD_PRELOAD=$PWD/ipvs_stub.so keepalived ...
 *
 * How keepalived (2.x, libipvs) reaches IPVS, and what is intercepted:
 *
 * 1. Generic netlink first: genl_ctrl_resolve(sock, "IPVS") from libnl.
 *    We make that lookup fail (-NLE_OBJ_NOTFOUND, as on a kernel without
 *    ip_vs), so keepalived falls back to the old sockopt interface, even
 *    on a machine that does have the module. Other families go to libnl.
 * 2. The sockopt interface: a raw socket (AF_INET, SOCK_RAW, IPPROTO_RAW),
 *    getsockopt(IPPROTO_IP, IP_VS_SO_GET_*) and
 *    setsockopt(IPPROTO_IP, IP_VS_SO_SET_*). Those option numbers
 *    (IP_VS_BASE_CTL = 1152 and up) belong to IPVS alone; we answer them
 *    here and never pass them to the kernel:
 *    GET_VERSION/INFO/TIMEOUT/DAEMON/SERVICES with plausible values
 *    (version 1.2.1, no services), every SET with success.
 *
 * Each SET is appended as one line to the file named by $IPVS_STUB_LOG
 * (one write(2) with O_APPEND, so lines from several processes never
 * interleave), e.g.
 *
 *   ADD 203.0.113.10:80 sched=wlc
 *   ADDDEST 203.0.113.10:80 rs=198.51.100.11:80 weight=1 fwd=DR
 *   EDITDEST 203.0.113.10:80 rs=198.51.100.11:80 weight=7 fwd=DR
 *   DELDEST 203.0.113.10:80 rs=198.51.100.12:80 weight=0 fwd=DR
 *
 * keepalived unsets LD_PRELOAD before it execs a check script, so the
 * checks themselves run without this library.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* libnl's NLE_OBJ_NOTFOUND (netlink/errno.h), returned negated. */
#define STUB_NLE_OBJ_NOTFOUND 12

struct nl_sock;

static int is_ipvs_opt(int level, int optname)
{
	return level == IPPROTO_IP && optname >= IP_VS_BASE_CTL &&
	       optname <= IP_VS_BASE_CTL + 20;
}

static void record(const char *line)
{
	const char *path = getenv("IPVS_STUB_LOG");
	int fd;

	if (!path || !*path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)!write(fd, line, strlen(line));
	close(fd);
}

static const char *set_name(int optname)
{
	switch (optname) {
	case IP_VS_SO_SET_ADD: return "ADD";
	case IP_VS_SO_SET_EDIT: return "EDIT";
	case IP_VS_SO_SET_DEL: return "DEL";
	case IP_VS_SO_SET_FLUSH: return "FLUSH";
	case IP_VS_SO_SET_ADDDEST: return "ADDDEST";
	case IP_VS_SO_SET_DELDEST: return "DELDEST";
	case IP_VS_SO_SET_EDITDEST: return "EDITDEST";
	case IP_VS_SO_SET_TIMEOUT: return "TIMEOUT";
	case IP_VS_SO_SET_STARTDAEMON: return "STARTDAEMON";
	case IP_VS_SO_SET_STOPDAEMON: return "STOPDAEMON";
	case IP_VS_SO_SET_ZERO: return "ZERO";
	default: return "SET?";
	}
}

static const char *fwd_name(unsigned int conn_flags)
{
	switch (conn_flags & IP_VS_CONN_F_FWD_MASK) {
	case IP_VS_CONN_F_MASQ: return "NAT";
	case IP_VS_CONN_F_LOCALNODE: return "LOCAL";
	case IP_VS_CONN_F_TUNNEL: return "TUN";
	case IP_VS_CONN_F_DROUTE: return "DR";
	default: return "OTHER";
	}
}

static void record_set(int optname, const void *val, socklen_t len)
{
	char line[256];
	char vip[INET_ADDRSTRLEN] = "-", rip[INET_ADDRSTRLEN] = "-";
	const struct ip_vs_service_user *svc = val;
	const struct ip_vs_dest_user *dest;

	if (!val || len < sizeof(*svc)) {
		snprintf(line, sizeof(line), "%s\n", set_name(optname));
		record(line);
		return;
	}
	inet_ntop(AF_INET, &svc->addr, vip, sizeof(vip));
	if (optname == IP_VS_SO_SET_ADDDEST || optname == IP_VS_SO_SET_DELDEST ||
	    optname == IP_VS_SO_SET_EDITDEST) {
		if (len < sizeof(*svc) + sizeof(*dest)) {
			snprintf(line, sizeof(line), "%s short\n", set_name(optname));
			record(line);
			return;
		}
		dest = (const void *)((const char *)val + sizeof(*svc));
		inet_ntop(AF_INET, &dest->addr, rip, sizeof(rip));
		snprintf(line, sizeof(line), "%s %s:%u rs=%s:%u weight=%d fwd=%s\n",
			 set_name(optname), vip, ntohs(svc->port), rip,
			 ntohs(dest->port), dest->weight, fwd_name(dest->conn_flags));
	} else if (optname == IP_VS_SO_SET_ADD || optname == IP_VS_SO_SET_EDIT ||
		   optname == IP_VS_SO_SET_DEL) {
		snprintf(line, sizeof(line), "%s %s:%u sched=%.*s\n", set_name(optname),
			 vip, ntohs(svc->port), IP_VS_SCHEDNAME_MAXLEN, svc->sched_name);
	} else {
		snprintf(line, sizeof(line), "%s\n", set_name(optname));
	}
	record(line);
}

int genl_ctrl_resolve(struct nl_sock *sk, const char *name)
{
	int (*real)(struct nl_sock *, const char *);

	if (name && strcmp(name, "IPVS") == 0)
		return -STUB_NLE_OBJ_NOTFOUND;
	real = (int (*)(struct nl_sock *, const char *))dlsym(RTLD_NEXT, "genl_ctrl_resolve");
	if (!real)
		return -STUB_NLE_OBJ_NOTFOUND;
	return real(sk, name);
}

int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
{
	static int (*real)(int, int, int, void *, socklen_t *);

	if (is_ipvs_opt(level, optname)) {
		if (!optval || !optlen) {
			errno = EFAULT;
			return -1;
		}
		switch (optname) {
		case IP_VS_SO_GET_VERSION: {
			const char *v = "IP Virtual Server version 1.2.1 (size=4096)";
			if (*optlen < 1) {
				errno = EINVAL;
				return -1;
			}
			snprintf(optval, *optlen, "%s", v);
			return 0;
		}
		case IP_VS_SO_GET_INFO: {
			struct ip_vs_getinfo info = { .version = 0x010201, .size = 4096, .num_services = 0 };
			if (*optlen < sizeof(info)) {
				errno = EINVAL;
				return -1;
			}
			memcpy(optval, &info, sizeof(info));
			*optlen = sizeof(info);
			return 0;
		}
		case IP_VS_SO_GET_TIMEOUT: {
			struct ip_vs_timeout_user t = { .tcp_timeout = 900, .tcp_fin_timeout = 120, .udp_timeout = 300 };
			if (*optlen < sizeof(t)) {
				errno = EINVAL;
				return -1;
			}
			memcpy(optval, &t, sizeof(t));
			*optlen = sizeof(t);
			return 0;
		}
		case IP_VS_SO_GET_SERVICES:
			if (*optlen < sizeof(struct ip_vs_get_services)) {
				errno = EINVAL;
				return -1;
			}
			((struct ip_vs_get_services *)optval)->num_services = 0;
			return 0;
		case IP_VS_SO_GET_DAEMON:
			memset(optval, 0, *optlen);
			return 0;
		default:
			/* GET_SERVICE, GET_DESTS: we keep no table to answer from. */
			errno = ESRCH;
			return -1;
		}
	}
	if (!real)
		real = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
	return real(fd, level, optname, optval, optlen);
}

int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	static int (*real)(int, int, int, const void *, socklen_t);

	if (is_ipvs_opt(level, optname)) {
		record_set(optname, optval, optlen);
		return 0;
	}
	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	return real(fd, level, optname, optval, optlen);
}
