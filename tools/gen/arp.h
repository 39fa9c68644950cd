/* ARP, as a host does it: ask who has the target's address, read the answer. */
#ifndef GEN_ARP_H
#define GEN_ARP_H

#include <stdbool.h>
#include <stdint.h>

/* An ARP request, padded to Ethernet's minimum frame (without FCS). */
#define ARP_FRAME_LEN 60

/* Write a broadcast "who has target_ip, tell ip" into frame (ARP_FRAME_LEN bytes). Addresses in network order. */
void arp_request_build(uint8_t *frame, const uint8_t mac[6], uint32_t ip, uint32_t target_ip);

/* Is frame an ARP reply from target_ip? Then its sender MAC goes to mac. */
bool arp_reply_parse(const uint8_t *frame, uint32_t len, uint32_t target_ip, uint8_t mac[6]);

#endif /* GEN_ARP_H */
