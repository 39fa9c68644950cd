"""ARP and ping: the client's kernel finds turbine's MAC by itself and gets echo replies."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES  # noqa: E402


def neighbour(bed):
    """(lladdr, state) of turbine's address in the client's neighbour table, or None."""
    p = bed.ns_run(['ip', 'neigh', 'show', bed.turbine_ip, 'dev', bed.client_if])
    m = re.search(r'lladdr ([0-9a-f:]{17})\s+(?:\w+\s+)*?([A-Z]+)\s*$', p.stdout.strip())
    return (m.group(1), m.group(2)) if m else None


def ping(c, bed, what, count, size=56):
    p = bed.ns_run(['ping', '-n', '-c', str(count), '-i', '0.2', '-W', '2', '-s', str(size),
                    bed.turbine_ip], timeout=30)
    c.eq(p.returncode, 0, what + ': ping succeeds')
    c.ok('%d received' % count in p.stdout, what + ': %d replies' % count, p.stdout[-300:])


def body(c):
    with harness.Testbed('arp_ping', 3) as bed, bed.turbine({'echo': MODULES['echo']}) as t:
        c.eq(neighbour(bed), None, 'no neighbour entry before the first packet')
        before = t.stats()
        rc, doc, p = bed.invoke('echo', '{"arp": true}')
        c.eq((rc, (doc or {}).get('body')), (0, {'arp': True}), 'invoke with an unresolved neighbour')
        entry = neighbour(bed)
        c.ok(entry is not None and entry[0] == t.mac and entry[1] != 'FAILED',
             'the kernel resolved turbine\'s MAC %s by ARP' % t.mac, entry)
        ping(c, bed, 'ping', 3)
        ping(c, bed, 'ping of 1472 bytes', 1, size=1472)
        ping(c, bed, 'ping of an odd size', 1, size=57)
        after = t.stats()
        c.ok(after['arp_replies'] - before['arp_replies'] >= 1, 'arp_replies counted',
             (before['arp_replies'], after['arp_replies']))
        c.eq(after['icmp_replies'] - before['icmp_replies'], 5, 'icmp_replies counted')

        # Forget the neighbour and resolve it again: ping alone, no UDP first.
        bed.ns_run(['ip', 'neigh', 'flush', 'dev', bed.client_if], check=True)
        ping(c, bed, 'ping after flushing the neighbour table', 2)
        entry = neighbour(bed)
        c.ok(entry is not None and entry[0] == t.mac, 'resolved again', entry)
        again = t.stats()
        c.ok(again['arp_replies'] > after['arp_replies'], 'a new ARP reply counted',
             (after['arp_replies'], again['arp_replies']))
        c.eq(again['drop_arp_other'] - before['drop_arp_other'], 0, 'no ARP dropped')
        rc, final = t.stop()
        c.eq(rc, 0, 'turbine exits 0')


harness.main('arp_ping', body)
