# Turns this Amazon Linux 2023 instance into the VPC's NAT, then tells CloudFormation
# whether it worked (the instance's CreationPolicy waits for that signal).
#
# The user data CDK writes by default installs iptables once and carries on when the
# package manager fails (aws/aws-cdk#36717): the instance then runs, but forwards
# nothing, and every task in the application subnets fails to pull its image. Here a
# failed step is retried, and a step that still fails makes the stack fail.
#
# Set before this file by the construct: STACK_NAME, REGION, RESOURCE (logical id).
set -Eeuo pipefail

FORWARDING_CONF="${FORWARDING_CONF:-/etc/sysctl.d/90-nat-forwarding.conf}"
ATTEMPTS=8

log() { echo "configure-nat: $*" >&2; }

retry() {
  local attempt
  for attempt in $(seq 1 "$ATTEMPTS"); do
    if "$@"; then
      return 0
    fi
    log "attempt ${attempt}/${ATTEMPTS} of '$*' failed"
    sleep $((attempt * 5))
  done
  return 1
}

instance_id() {
  local token
  token=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
  curl -sf -H "X-aws-ec2-metadata-token: ${token}" http://169.254.169.254/latest/meta-data/instance-id
}

signal() {
  log "signalling $1 to ${STACK_NAME}/${RESOURCE}"
  retry aws cloudformation signal-resource --region "$REGION" --stack-name "$STACK_NAME" \
    --logical-resource-id "$RESOURCE" --unique-id "$(instance_id)" --status "$1"
}

trap 'status=$?; log "failed (exit ${status})"; signal FAILURE || true; exit "$status"' ERR

retry dnf install -y iptables-services
systemctl enable --now iptables
echo "net.ipv4.ip_forward=1" > "$FORWARDING_CONF"
sysctl -w net.ipv4.ip_forward=1
interface=$(ip route show default | awk '{print $5; exit}')
[ -n "$interface" ]
iptables -t nat -A POSTROUTING -o "$interface" -j MASQUERADE
iptables -F FORWARD
service iptables save

# What forwarding needs, checked rather than assumed.
[ "$(sysctl -n net.ipv4.ip_forward)" = "1" ]
iptables -t nat -S POSTROUTING | grep -q -- "-o ${interface} -j MASQUERADE"
signal SUCCESS
