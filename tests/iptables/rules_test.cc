// The interception rules against the original agent's documented --dry-run output
// (reference/original-agent.md), rule by rule, for each flag combination there; and the
// apply/cleanup transactions against a fake iptables.
#include "iptables/interceptor.h"
#include "iptables/rules.h"

#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace agent::iptables {
namespace {

config::IptablesConfig Flags(const std::string& inbound, const std::string& inbound_exclude, const std::string& outbound,
                             const std::string& outbound_exclude) {
  config::IptablesConfig c;
  c.inbound_ports = inbound;
  c.inbound_exclude_ports = inbound_exclude;
  c.outbound_ports = outbound;
  c.outbound_exclude_ports = outbound_exclude;
  c.agent_ports = "";  // the original had no such default
  EXPECT_TRUE(config::Validate(c).ok());
  return c;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The original's injection template: --apisix-user nobody --apisix-inbound-capture-port 9081
// --apisix-port 9080 --inbound-ports "*" --inbound-exclude-ports 17739 --outbound-ports "*"
// --outbound-exclude-ports 17739,15010 (nobody was 4294967294 in its container).
TEST(RulesTest, TheOriginalInjectionTemplate) {
  const auto plan = BuildPlan(Flags("*", "17739", "*", "17739,15010"), 4294967294u, 4294967294u, Family::kIpv4);
  EXPECT_EQ(FormatCommands(plan, "iptables"), Lines(R"(
iptables -t nat -N APISIX_REDIRECT
iptables -t nat -N APISIX_INBOUND_REDIRECT
iptables -t nat -N APISIX_INBOUND
iptables -t nat -A APISIX_REDIRECT -p tcp -j REDIRECT --to-ports 9080
iptables -t nat -A APISIX_INBOUND_REDIRECT -p tcp -j REDIRECT --to-ports 9081
iptables -t nat -A OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 4294967294 -j RETURN
iptables -t nat -A OUTPUT -m owner --gid-owner 4294967294 -j RETURN
iptables -t nat -A PREROUTING -p tcp -j APISIX_INBOUND
iptables -t nat -A APISIX_INBOUND -p tcp --dport 22 -j RETURN
iptables -t nat -A APISIX_INBOUND -p tcp --dport 17739 -j RETURN
iptables -t nat -A APISIX_INBOUND -p tcp -j APISIX_INBOUND_REDIRECT
iptables -t nat -A OUTPUT -p tcp --dport 17739 -j RETURN
iptables -t nat -A OUTPUT -p tcp --dport 15010 -j RETURN
iptables -t nat -A OUTPUT -p tcp -j APISIX_REDIRECT
)"));
}

TEST(RulesTest, PortListsAndRootUser) {
  config::IptablesConfig c = Flags("80,443", "", "8080", "");
  c.apisix_port = 19080;
  c.apisix_inbound_capture_port = 19081;
  EXPECT_EQ(FormatCommands(BuildPlan(c, 0, 0, Family::kIpv4), "iptables"), Lines(R"(
iptables -t nat -N APISIX_REDIRECT
iptables -t nat -N APISIX_INBOUND_REDIRECT
iptables -t nat -N APISIX_INBOUND
iptables -t nat -A APISIX_REDIRECT -p tcp -j REDIRECT --to-ports 19080
iptables -t nat -A APISIX_INBOUND_REDIRECT -p tcp -j REDIRECT --to-ports 19081
iptables -t nat -A OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 0 -j RETURN
iptables -t nat -A OUTPUT -m owner --gid-owner 0 -j RETURN
iptables -t nat -A PREROUTING -p tcp -j APISIX_INBOUND
iptables -t nat -A APISIX_INBOUND -p tcp --dport 80 -j APISIX_INBOUND_REDIRECT
iptables -t nat -A APISIX_INBOUND -p tcp --dport 443 -j APISIX_INBOUND_REDIRECT
iptables -t nat -A OUTPUT -p tcp --dport 8080 -j APISIX_REDIRECT
)"));
}

TEST(RulesTest, NoInboundCaptureMeansNoInboundChain) {
  EXPECT_EQ(FormatCommands(BuildPlan(Flags("", "", "*", ""), 65534, 65534, Family::kIpv4), "iptables"), Lines(R"(
iptables -t nat -N APISIX_REDIRECT
iptables -t nat -N APISIX_INBOUND_REDIRECT
iptables -t nat -A APISIX_REDIRECT -p tcp -j REDIRECT --to-ports 9080
iptables -t nat -A APISIX_INBOUND_REDIRECT -p tcp -j REDIRECT --to-ports 9081
iptables -t nat -A OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 65534 -j RETURN
iptables -t nat -A OUTPUT -m owner --gid-owner 65534 -j RETURN
iptables -t nat -A OUTPUT -p tcp -j APISIX_REDIRECT
)"));
  // Inbound only: no outbound rules at all.
  const auto inbound_only = FormatCommands(BuildPlan(Flags("*", "", "", ""), 1, 2, Family::kIpv4), "iptables");
  EXPECT_EQ(inbound_only.back(), "iptables -t nat -A APISIX_INBOUND -p tcp -j APISIX_INBOUND_REDIRECT");
}

TEST(RulesTest, TheAgentsOwnPortsAreExcludedByDefaultAfterTheUsers) {
  config::IptablesConfig c;
  c.inbound_ports = "*";
  c.outbound_ports = "*";
  c.outbound_exclude_ports = "15010,3306";
  ASSERT_TRUE(config::Validate(c).ok());
  const auto commands = FormatCommands(BuildPlan(c, 65534, 65534, Family::kIpv4), "iptables");
  const std::string all = absl::StrJoin(commands, "\n");
  EXPECT_NE(all.find("-A OUTPUT -p tcp --dport 15010 -j RETURN\niptables -t nat -A OUTPUT -p tcp --dport 3306 -j RETURN\n"
                     "iptables -t nat -A OUTPUT -p tcp --dport 2379 -j RETURN\niptables -t nat -A OUTPUT -p tcp --dport 17739 -j RETURN\n"
                     "iptables -t nat -A OUTPUT -p tcp --dport 15012 -j RETURN\niptables -t nat -A OUTPUT -p tcp --dport 15021 -j RETURN\n"
                     "iptables -t nat -A OUTPUT -p tcp -j APISIX_REDIRECT"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("-A APISIX_INBOUND -p tcp --dport 15021 -j RETURN"), std::string::npos);
}

TEST(RulesTest, Ipv6UsesItsLoopback) {
  const auto commands = FormatCommands(BuildPlan(Flags("", "", "*", ""), 7, 8, Family::kIpv6), "ip6tables");
  EXPECT_EQ(commands[4], "ip6tables -t nat -A OUTPUT -o lo ! -d ::1/128 -m owner --uid-owner 7 -j RETURN");
}

TEST(RulesTest, MalformedPortListsAreNamed) {
  config::IptablesConfig c;
  c.outbound_ports = "80,http";
  EXPECT_EQ(config::Validate(c).message(), "--outbound-ports: \"http\" is not a port (1-65535) in \"80,http\" (or use \"*\")");
  c = {};
  c.inbound_ports = "*";
  c.inbound_exclude_ports = "70000";
  EXPECT_EQ(config::Validate(c).message(), "--inbound-exclude-ports: \"70000\" is not a port (1-65535) in \"70000\"");
  c = {};
  c.outbound_ports = "80";
  c.outbound_exclude_ports = "81";
  EXPECT_EQ(config::Validate(c).message(), "--outbound-exclude-ports: only meaningful with --outbound-ports \"*\"");
  c = {};
  c.inbound_interception_mode = "TPROXY";
  EXPECT_EQ(config::Validate(c).message(), "--inbound-interception-mode: \"TPROXY\" is not supported (accepted: REDIRECT)");
}

// A fake iptables: a canned iptables-save, `-C` answered from a set, and every call recorded.
class FakeIptables final : public CommandRunner {
 public:
  std::string saved;
  std::vector<std::string> calls;
  std::string restored;
  int restore_exit = 0;

  CommandResult Run(const std::vector<std::string>& argv, const std::string& input) override {
    calls.push_back(absl::StrJoin(argv, " "));
    if (argv[0] == "iptables-save") return {0, saved};
    if (argv[0] == "iptables-restore") {
      restored = input;
      return {restore_exit, restore_exit == 0 ? "" : "iptables-restore: line 3 failed"};
    }
    return {1, "unexpected"};
  }
};

TEST(InterceptorTest, ARerunReplacesInsteadOfDuplicating) {
  const auto plan = BuildPlan(Flags("*", "", "*", ""), 65534, 65534, Family::kIpv4);
  FakeIptables fake;
  fake.saved =
      "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:APISIX_INBOUND - [0:0]\n:APISIX_REDIRECT - [0:0]\n"
      ":APISIX_INBOUND_REDIRECT - [0:0]\n-A PREROUTING -p tcp -j APISIX_INBOUND\n"
      "-A OUTPUT -p tcp -m tcp --dport 5432 -j RETURN\n-A OUTPUT -p tcp -j APISIX_REDIRECT\n"
      "-A OUTPUT -p tcp -j KUBE-SERVICES\n-A OUTPUT -m owner --gid-owner 65534 -j RETURN\n"
      "-A OUTPUT -p udp -m udp --dport 53 -j RETURN\nCOMMIT\n";
  Interceptor interceptor(fake, Family::kIpv4);
  ASSERT_TRUE(interceptor.Apply(plan).ok());
  const auto restored = Lines(fake.restored);
  // Deletions of what an earlier run left (whatever its flags: the 5432 exclusion too), then the plan.
  EXPECT_EQ(restored[4], "-D PREROUTING -p tcp -j APISIX_INBOUND");
  EXPECT_EQ(restored[5], "-D OUTPUT -p tcp -j APISIX_REDIRECT");
  EXPECT_EQ(restored[6], "-D OUTPUT -p tcp -m tcp --dport 5432 -j RETURN");
  EXPECT_EQ(restored[7], "-D OUTPUT -m owner --gid-owner 65534 -j RETURN");
  EXPECT_EQ(restored[8], "-A APISIX_REDIRECT -p tcp -j REDIRECT --to-ports 9080");
  EXPECT_EQ(fake.restored.find("KUBE-SERVICES"), std::string::npos);  // others' rules are not touched
  EXPECT_EQ(fake.restored.find("udp"), std::string::npos);
  EXPECT_EQ(fake.calls.back(), "iptables-restore --noflush");
}

TEST(InterceptorTest, AFailedRestoreIsReportedAsChangingNothing) {
  FakeIptables fake;
  fake.saved = "*nat\nCOMMIT\n";
  fake.restore_exit = 1;
  Interceptor interceptor(fake, Family::kIpv4);
  auto status = interceptor.Apply(BuildPlan(Flags("", "", "*", ""), 1, 1, Family::kIpv4));
  EXPECT_EQ(status.message(), "iptables-restore failed (nothing was changed): iptables-restore: line 3 failed");
}

TEST(InterceptorTest, CleanupRemovesOnlyOursAndNeverTheBuiltinChains) {
  FakeIptables fake;
  fake.saved = "*nat\n:OUTPUT ACCEPT [0:0]\n:APISIX_REDIRECT - [0:0]\n:APISIX_INBOUND - [0:0]\n"
               ":APISIX_INBOUND_REDIRECT - [0:0]\n-A PREROUTING -p tcp -j APISIX_INBOUND\n"
               "-A OUTPUT -p tcp -j APISIX_REDIRECT\n-A OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 65534 -j RETURN\n"
               "COMMIT\n";
  Interceptor interceptor(fake, Family::kIpv4);
  auto commands = interceptor.Cleanup(/*dry_run=*/false);
  ASSERT_TRUE(commands.ok());
  EXPECT_EQ(*commands, Lines(R"(
iptables -t nat -D PREROUTING -p tcp -j APISIX_INBOUND
iptables -t nat -D OUTPUT -p tcp -j APISIX_REDIRECT
iptables -t nat -D OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --uid-owner 65534 -j RETURN
iptables -t nat -F APISIX_INBOUND
iptables -t nat -F APISIX_REDIRECT
iptables -t nat -F APISIX_INBOUND_REDIRECT
iptables -t nat -X APISIX_INBOUND
iptables -t nat -X APISIX_REDIRECT
iptables -t nat -X APISIX_INBOUND_REDIRECT
)"));
  EXPECT_EQ(fake.restored.find("-F OUTPUT"), std::string::npos);
  EXPECT_EQ(fake.restored.find("-X OUTPUT"), std::string::npos);

  FakeIptables clean;
  clean.saved = "*nat\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n";
  Interceptor again(clean, Family::kIpv4);
  auto nothing = again.Cleanup(false);
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->empty());         // safe to run twice
  EXPECT_TRUE(clean.restored.empty());  // and nothing was run
}

}  // namespace
}  // namespace agent::iptables
