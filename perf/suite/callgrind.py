"""Instructions per request: a pcap of echo requests for net_pcap, and the arithmetic on
callgrind's call graph that turns three runs into a figure independent of timing.

Callgrind counts only inside ROOT (--toggle-collect), the dispatcher's poll. Its inclusive cost
is  a + c * polls + x * requests: a fixed part, c per poll (the empty polls after the batch
is read cost exactly the same each time), and x per request. The idle run (no requests) gives c;
the runs with N and 2N requests give x as the difference of their costs net of the polls,
divided by N, which also cancels every one-time cost (lazy symbol binding, first-touch paths).
The pcap PMD's own work (reading and writing the capture files through libpcap) is priced the
same way from the calls into it, and reported apart: a NIC's PMD costs something else.
"""

import struct

import msgpack

ROOT = 'dispatch_poll'
PMD_OBJECT = 'librte_net_pcap'

PCAP_MAGIC = 0xa1b2c3d4
# net_pcap's address for a port without an interface, "pcap" in ASCII; turbine uses it as its own.
TURBINE_MAC = bytes([0x02, 0x70, 0x63, 0x61, 0x70, 0x00])
CLIENT_MAC = bytes([0x02, 0x00, 0x00, 0x00, 0x00, 0x02])
CLIENT_IP = bytes([198, 18, 0, 2])
TURBINE_IP = bytes([198, 18, 0, 1])
CLIENT_PORT = 40000
SERVICE_PORT = 9000


def _checksum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def event_size(event):
    """The event's own MessagePack bytes, as the request carries it."""
    return len(msgpack.packb(event))


def request_frame(request_id, fn, event):
    """Ethernet, IPv4 and UDP (with its checksum) around one PROTOCOL.md request."""
    payload = msgpack.packb({'id': request_id, 'fn': fn, 'event': event})
    udp_len = 8 + len(payload)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + udp_len, request_id & 0xffff, 0, 64, 17, 0,
                     CLIENT_IP, TURBINE_IP)
    ip = ip[:10] + struct.pack('!H', _checksum(ip)) + ip[12:]
    pseudo = CLIENT_IP + TURBINE_IP + struct.pack('!BBH', 0, 17, udp_len)
    udp = struct.pack('!HHHH', CLIENT_PORT, SERVICE_PORT, udp_len, 0)
    udp = udp[:6] + struct.pack('!H', _checksum(pseudo + udp + payload) or 0xffff)
    return TURBINE_MAC + CLIENT_MAC + b'\x08\x00' + ip + udp + payload


def write_requests(path, count, fn, event):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', PCAP_MAGIC, 2, 4, 0, 0, 65535, 1))
        for i in range(count):
            frame = request_frame(i + 1, fn, event)
            f.write(struct.pack('<IIII', 1700000000 + i // 1000000, i % 1000000,
                                len(frame), len(frame)) + frame)


def parse(path):
    """From a callgrind file written with --compress-strings=no: calls of ROOT, its inclusive
    cost (summed over the arcs into it), and the inclusive cost of the arcs into the PMD."""
    polls = total = pmd = 0
    ob = fn = cob = cfn = None
    pending = None
    with open(path) as f:
        for line in f:
            line = line.rstrip('\n')
            if pending is not None:
                # The line after calls= holds the arc's inclusive cost: "<position> <Ir>".
                cost = int(line.split()[1])
                if pending == 'root':
                    total += cost
                elif pending == 'pmd':
                    pmd += cost
                pending = None
            elif line.startswith('ob='):
                ob, cob = line[3:], None
            elif line.startswith('fn='):
                fn, cob = line[3:], None
            elif line.startswith('cob='):
                cob = line[4:]
            elif line.startswith('cfn='):
                cfn = line[4:]
            elif line.startswith('calls='):
                calls = int(line[6:].split()[0])
                callee_ob = cob if cob is not None else ob
                if cfn == ROOT and fn != ROOT:
                    polls += calls
                    pending = 'root'
                elif PMD_OBJECT in (callee_ob or '') and PMD_OBJECT not in (ob or ''):
                    pending = 'pmd'
                else:
                    pending = 'other'
                cob = None
    if polls == 0:
        raise ValueError('%s: no call of %s recorded' % (path, ROOT))
    return {'polls': polls, 'instructions': total, 'pmd_instructions': pmd}


def analyse(idle, n_run, n2_run, n):
    """x per request from the idle, N and 2N runs (see the module's comment)."""
    c_all = idle['instructions'] / idle['polls']
    c_pmd = idle['pmd_instructions'] / idle['polls']

    def net(r):
        everything = r['instructions'] - c_all * r['polls']
        pmd = r['pmd_instructions'] - c_pmd * r['polls']
        return everything, pmd

    all_n, pmd_n = net(n_run)
    all_2n, pmd_2n = net(n2_run)
    with_pmd = (all_2n - all_n) / n
    pmd = (pmd_2n - pmd_n) / n
    return {
        'root': ROOT,
        'batch': n,
        'per_poll_idle': c_all,
        'per_poll_idle_pmd': c_pmd,
        'per_request': with_pmd - pmd,
        'per_request_with_pmd': with_pmd,
        'per_request_pmd': pmd,
        # One batch alone, one-time costs included: how much the difference removed.
        'per_request_batch_n': (all_n - pmd_n) / n,
    }
