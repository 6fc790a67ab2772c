// End to end, the registry: a real chemledgerd per test (init, then serve on
// loopback; tests/e2e_server.h), real gRPC calls, real LevelDB on disk.
// Every refusal names its field and leaves the log as it was; revoked keys
// and blacklisted enterprises are refused (and a lifted blacklist lets them
// in again); registry reads need an actor's signature, and the public label
// scan shows less than a signed one.

#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label_service.grpc.pb.h"
#include "chemledger/v1/registry_service.grpc.pb.h"
#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/subprocess.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/registry/registry_testing.h"
#include "tests/e2e_server.h"

namespace chemledger {
namespace {

class RegistryE2eTest : public testing::ChemledgerdE2eTest {};

TEST_F(RegistryE2eTest, RefusalsNameTheFieldAndLeaveTheLogUnchanged) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  using grpc::StatusCode;
  v1::RegistryRequest bad = Enterprise("91350100M000100Y44");
  Refused(Signed(*admin_, bad), StatusCode::INVALID_ARGUMENT, "enterprise.uscc");

  auto product = [](const std::function<void(v1::Product*)>& change) {
    v1::Product p = registry::testing::ExampleMethanol(kAcme, "P1");
    change(&p);
    return Product(p);
  };
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_cas("67-56-2"); })),
          StatusCode::INVALID_ARGUMENT, "product.cas");
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_un_number("123"); })),
          StatusCode::INVALID_ARGUMENT, "product.un_number");
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_un_number("1203"); })),
          StatusCode::INVALID_ARGUMENT, "product.un_number");  // catalogue says 1230
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->set_catalogue_number(2829); })),
          StatusCode::INVALID_ARGUMENT, "product.catalogue_number");
  // Chlorine is class 2.3: no packing group.
  Refused(Signed(*acme_admin_, product([](v1::Product* p) {
            p->set_name_zh("氯");
            p->set_name_en("Chlorine");
            p->set_cas("7782-50-5");
            p->set_un_number("1017");
            p->set_hazard_class("2.3");
            p->set_packing_group("II");
            p->set_catalogue_number(1381);
            p->clear_control_flags();
            p->add_control_flags("剧毒");
            p->add_control_flags("重点监管");
          })),
          StatusCode::INVALID_ARGUMENT, "product.packing_group");
  Refused(Signed(*acme_admin_, product([](v1::Product* p) { p->clear_packing_group(); })),
          StatusCode::INVALID_ARGUMENT, "product.packing_group");
  Refused(Signed(*acme_admin_, Product(registry::testing::ExampleMethanol(kAcme, "M01"))),
          StatusCode::ALREADY_EXISTS, "product.product_number");
  Refused(Signed(*admin_, Product(registry::testing::ExampleMethanol("91440300MA5ABCDE1X", "M01"))),
          StatusCode::INVALID_ARGUMENT, "enterprise_uscc");
  // A valid code nobody registered.
  const std::string unknown = registry::testing::ExampleUscc("330200");
  Refused(Signed(*admin_, Product(registry::testing::ExampleMethanol(unknown, "M01"))),
          StatusCode::NOT_FOUND, "product.enterprise_uscc");
  // Unsigned, and signed by one actor with another's key id.
  v1::SignedEnvelope unsigned_envelope =
      Signed(*acme_admin_, Product(registry::testing::ExampleMethanol(kAcme, "P2")));
  unsigned_envelope.clear_signatures();
  Refused(unsigned_envelope, StatusCode::INVALID_ARGUMENT, "signatures");
  v1::SignedEnvelope impostor =
      Signed(*other_admin_, Product(registry::testing::ExampleMethanol(kAcme, "P2")));
  impostor.mutable_signatures(0)->set_key_id(acme_admin_->key_id().ToString());
  Refused(impostor, StatusCode::UNAUTHENTICATED, "envelope.signatures[0].sig");
  // Another enterprise's admin may not register Acme's products.
  Refused(Signed(*other_admin_, Product(registry::testing::ExampleMethanol(kAcme, "P3"))),
          StatusCode::PERMISSION_DENIED, "envelope.signatures[0].key_id: actor 'other admin'");
}

TEST_F(RegistryE2eTest, RevokedKeysAndBlacklistedEnterprisesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  using grpc::StatusCode;
  // A revoked operator can no longer issue.
  crypto::SigningKey temp = crypto::SigningKey::Generate();
  SubmitOk(*acme_admin_, Actor("temp", v1::ENTERPRISE_ADMIN, kAcme, temp));
  v1::RegistryRequest revoke;
  revoke.mutable_revoke_key()->set_key_id(temp.key_id().ToString());
  revoke.mutable_revoke_key()->set_reason("lost laptop");
  SubmitOk(*acme_admin_, revoke);
  Refused(Signed(temp, Product(registry::testing::ExampleMethanol(kAcme, "P9"))),
          StatusCode::PERMISSION_DENIED,
          "envelope.signatures[0].key_id: key " + temp.key_id().ToString() + " was revoked");
  // Its key stays readable, with where the log registered and revoked it,
  // so what it signed before can still be checked.
  {
    v1::GetActorRequest request;
    request.set_key_id(temp.key_id().ToString());
    v1::Actor active;
    EXPECT_EQ(Read(*regulator_, api::kGetActorMethod, request, &active).error_code(),
              StatusCode::NOT_FOUND);
    v1::ActorKeyRecord key;
    grpc::Status status = Read(*regulator_, api::kGetActorKeyMethod, request, &key);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(key.actor().name(), "temp");
    EXPECT_EQ(key.actor().public_key(), temp.verifying_key().ToBytes());
    EXPECT_TRUE(key.revoked());
    EXPECT_EQ(key.revoked_reason(), "lost laptop");
    EXPECT_LT(key.added_at(), key.revoked_at());
    // Both entries prove into the signed checkpoint.
    absl::StatusOr<crypto::Checkpoint> checkpoint = VerifiedCheckpoint();
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    ExpectProvable(key.added_at(), crypto::HashLeaf(key.registration_entry()), *checkpoint);
    ExpectProvable(key.revoked_at(), crypto::HashLeaf(key.revocation_entry()), *checkpoint);
  }
  const uint64_t before = LogSize();
  Issued refused = Issue(IssueRequest("B9", 1, temp), &temp);
  EXPECT_EQ(refused.status.error_code(), StatusCode::PERMISSION_DENIED)
      << refused.status.error_message();
  EXPECT_TRUE(refused.labels.empty());
  EXPECT_EQ(LogSize(), before);

  // Blacklist Other: its products and labels are refused; lift it again.
  SubmitOk(*other_admin_, Product(registry::testing::ExampleMethanol(kOther, "M01")));
  v1::RegistryRequest blacklist;
  blacklist.mutable_blacklist()->set_enterprise_uscc(kOther);
  blacklist.mutable_blacklist()->set_blacklisted(true);
  blacklist.mutable_blacklist()->set_reason("unlicensed storage");
  *blacklist.mutable_blacklist()->mutable_date() = Today();
  SubmitOk(*regulator_, blacklist);
  {
    // The blacklist is public: anyone reads it, without credentials.
    grpc::ClientContext anonymous;
    v1::ListBlacklistResponse list;
    grpc::Status status = registry_->ListBlacklist(&anonymous, v1::ListBlacklistRequest(), &list);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(list.entries_size(), 1);
    EXPECT_EQ(list.entries(0).enterprise_uscc(), kOther);
    EXPECT_EQ(list.entries(0).reason(), "unlicensed storage");
    EXPECT_EQ(list.entries(0).listed_by(), "regulator");
    EXPECT_GT(list.entries(0).log_index(), 0u);
  }
  Refused(Signed(*admin_, Product(registry::testing::ExampleMethanol(kOther, "M02"))),
          StatusCode::PERMISSION_DENIED, "product.enterprise_uscc: enterprise " + std::string(kOther) +
                                             " is blacklisted");
  Refused(Signed(*other_admin_, Product(registry::testing::ExampleMethanol(kOther, "M03"))),
          StatusCode::PERMISSION_DENIED,
          "envelope.signatures[0].key_id: the signer's enterprise " + std::string(kOther) +
              " is blacklisted");
  v1::IssueLabelsRequest r;
  r.set_request_id("blacklisted-issue");
  r.set_enterprise_uscc(kOther);
  r.set_product_number("M01");
  r.set_batch("B1");
  *r.mutable_production_date() = Today();
  r.set_package_count(1);
  r.set_net_quantity("1");
  r.set_unit("LTR");
  const uint64_t size = LogSize();
  Issued blocked =
      Issue(*envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), *other_admin_));
  EXPECT_EQ(blocked.status.error_code(), StatusCode::PERMISSION_DENIED);
  // (Refused at the call's read credentials, before the request is read.)
  EXPECT_NE(blocked.status.error_message().find("metadata chemledger-key-id: the signer's "
                                                "enterprise " + std::string(kOther) +
                                                " is blacklisted"),
            std::string::npos)
      << blocked.status.error_message();
  EXPECT_EQ(LogSize(), size);

  // Lifted, Other may register products again.
  blacklist.mutable_blacklist()->set_blacklisted(false);
  blacklist.mutable_blacklist()->set_reason("storage brought into compliance");
  SubmitOk(*regulator_, blacklist);
  SubmitOk(*other_admin_, Product(registry::testing::ExampleMethanol(kOther, "M04")));
}

TEST_F(RegistryE2eTest, RegistryReadsNeedAnActorsSignatureAndTheScanShowsLess) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  v1::GetEnterpriseRequest request;
  request.set_uscc(kAcme);
  v1::EnterpriseRecord record;
  {
    grpc::ClientContext anonymous;
    grpc::Status status = registry_->GetEnterprise(&anonymous, request, &record);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
    EXPECT_NE(status.error_message().find("chemledger-key-id"), std::string::npos);
  }
  // Credentials made for `r`, sent with `request` (the stub serializes it as
  // this binary's SerializeAsString does).
  const auto send = [&](const read_auth::ReadCredentials& c) {
    grpc::ClientContext context;
    read_auth::AttachCredentials(&context, c);
    return registry_->GetEnterprise(&context, request, &record);
  };
  const std::string bytes = request.SerializeAsString();
  const auto made_for = [&](absl::string_view origin, absl::string_view method,
                            absl::string_view request_bytes, absl::Time at) {
    return read_auth::SignRead(read_auth::ReadRequest{origin, method, request_bytes},
                               *regulator_, at);
  };
  const auto expect_unauthenticated = [](const grpc::Status& status, const std::string& names) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
    EXPECT_NE(status.error_message().find(names), std::string::npos) << status.error_message();
  };
  // Signed for another method, another request, another deployment: the
  // signature does not verify.
  expect_unauthenticated(send(made_for(kDeployment, api::kGetProductMethod, bytes, absl::Now())),
                         "read credentials: metadata chemledger-signature-bin");
  v1::GetEnterpriseRequest other;
  other.set_uscc(kOther);
  expect_unauthenticated(
      send(made_for(kDeployment, api::kGetEnterpriseMethod, other.SerializeAsString(),
                    absl::Now())),
      "read credentials");
  expect_unauthenticated(
      send(made_for("another.deployment", api::kGetEnterpriseMethod, bytes, absl::Now())),
      "read credentials");
  // Signed by a key nobody registered: named as the metadata entry sent.
  {
    const crypto::SigningKey stranger = crypto::SigningKey::Generate();
    expect_unauthenticated(
        send(read_auth::SignRead(
            read_auth::ReadRequest{kDeployment, api::kGetEnterpriseMethod, bytes}, stranger,
            absl::Now())),
        "read credentials: metadata chemledger-key-id: key " + stranger.key_id().ToString());
  }
  // Signed two minutes ago: refused.
  expect_unauthenticated(
      send(made_for(kDeployment, api::kGetEnterpriseMethod, bytes,
                    absl::Now() - absl::Minutes(2))),
      "chemledger-time");
  // Good credentials read once; the same credentials again are a replay.
  const read_auth::ReadCredentials good =
      made_for(kDeployment, api::kGetEnterpriseMethod, bytes, absl::Now());
  ASSERT_TRUE(send(good).ok());
  expect_unauthenticated(send(good), "chemledger-nonce: these credentials were used already");
  // A server killed (SIGKILL) and started again still remembers the nonces
  // (DATA/ephemeral; in the cluster, ledgerd's): the same credentials stay a
  // replay, while credentials signed before the restart and not used yet
  // are good.
  const read_auth::ReadCredentials unused =
      made_for(kDeployment, api::kGetEnterpriseMethod, bytes, absl::Now());
  ASSERT_NO_FATAL_FAILURE(StartServer());
  expect_unauthenticated(send(good), "chemledger-nonce: these credentials were used already");
  EXPECT_TRUE(send(unused).ok());
  expect_unauthenticated(send(unused), "chemledger-nonce: these credentials were used already");
  // The first form (read.v1: no nonce, method and time only) is refused
  // unless the server was started to accept it.
  {
    read_auth::ReadCredentials v1_form;
    v1_form.key_id = regulator_->key_id().ToString();
    v1_form.time = absl::StrCat(absl::ToUnixSeconds(absl::Now()));
    v1::SignedEnvelope signed_v1 = *envelope::Sign(
        read_auth::kReadContextV1, absl::StrCat(api::kGetEnterpriseMethod, "\n", v1_form.time),
        *regulator_);
    v1_form.signature = signed_v1.signatures(0).sig();
    expect_unauthenticated(send(v1_form), "read.v1 credentials (no nonce) are no longer accepted");
    // Until 2027-06-30 a server may be told to accept them, replays and all
    // (chemledgerd only: the cluster's services never accept them).
    if (ClusterShape()) return;
    ASSERT_NO_FATAL_FAILURE(StartServer({"--read-credentials=v1-accepted"}));
    v1_form.time = absl::StrCat(absl::ToUnixSeconds(absl::Now()));
    v1_form.signature =
        envelope::Sign(read_auth::kReadContextV1,
                       absl::StrCat(api::kGetEnterpriseMethod, "\n", v1_form.time), *regulator_)
            ->signatures(0)
            .sig();
    if (api::TodayInChina() <= absl::CivilDay(2027, 6, 30)) {
      EXPECT_TRUE(send(v1_form).ok());
      EXPECT_TRUE(send(v1_form).ok());
    }
    ASSERT_NO_FATAL_FAILURE(StartServer());
    expect_unauthenticated(send(v1_form), "read.v1");
  }
  {
    // Bytes that are no message of the request's type, signed as they are:
    // refused, naming the type, before anything is read.
    grpc::ClientContext context;
    std::string answer;
    grpc::Status status = read_auth::SignedReadBytes(
        *channel_, &context, api::kGetEnterpriseMethod, std::string("\xff\xff\xff", 3),
        read_auth::ReadSigner{*regulator_, kDeployment}, &answer);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("request: not a serialized "
                                          "chemledger.v1.GetEnterpriseRequest"),
              std::string::npos)
        << status.error_message();
  }
  {
    // A stranger's key is not registered.
    EXPECT_EQ(Read(crypto::SigningKey::Generate(), api::kGetEnterpriseMethod, request, &record)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::Status status = Read(*regulator_, api::kGetEnterpriseMethod, request, &record);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(record.enterprise().uscc(), kAcme);
    EXPECT_GT(record.enterprise().licences_size(), 0);
  }

  // The public scan: product and supplier name, not the supplier's licences.
  Issued issued = Issue(IssueRequest("SCAN1", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok());
  v1::ResolveLabelRequest resolve;
  resolve.set_url(issued.labels[0].url());
  v1::ResolveLabelResponse anonymous_view, actor_view;
  grpc::ClientContext anonymous;
  ASSERT_TRUE(labels_->ResolveLabel(&anonymous, resolve, &anonymous_view).ok());
  EXPECT_EQ(anonymous_view.verdict(), "authentic");
  EXPECT_EQ(anonymous_view.product().un_number(), "1230");
  EXPECT_FALSE(anonymous_view.enterprise().enterprise().name().empty());
  EXPECT_EQ(anonymous_view.enterprise().enterprise().licences_size(), 0);
  ASSERT_TRUE(Read(*regulator_, api::kResolveLabelMethod, resolve, &actor_view).ok());
  EXPECT_GT(actor_view.enterprise().enterprise().licences_size(), 0);
}

TEST_F(RegistryE2eTest, RegistryEntriesAreReadableWithTheirBytesAndProve) {
  ASSERT_NO_FATAL_FAILURE(RegisterExampleEnterprises());
  v1::GetEnterpriseRequest request;
  request.set_uscc(kAcme);
  v1::EnterpriseRecord acme;
  ASSERT_TRUE(Read(*regulator_, api::kGetEnterpriseMethod, request, &acme).ok());
  ASSERT_GT(acme.registered_at(), 0u);
  const auto entry_at = [&](uint64_t index, v1::RegistryEntry* out) {
    v1::GetRegistryEntryRequest r;
    r.set_log_index(index);
    return Read(*other_admin_, api::kGetRegistryEntryMethod, r, out);
  };
  v1::RegistryEntry registration;
  ASSERT_TRUE(entry_at(acme.registered_at(), &registration).ok());
  v1::LogEntry logged;
  ASSERT_TRUE(logged.ParseFromString(registration.entry()));
  v1::RegistryRequest registered;
  ASSERT_TRUE(registered.ParseFromString(logged.envelope().payload()));
  EXPECT_EQ(registered.register_enterprise().uscc(), kAcme);
  // It proves into the signed checkpoint.
  absl::StatusOr<crypto::Checkpoint> checkpoint = VerifiedCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ExpectProvable(registration.log_index(), crypto::HashLeaf(registration.entry()), *checkpoint);
  // An issuance is an enterprise's business, not a registry entry; nor is
  // an index past the log.
  Issued issued = Issue(IssueRequest("REG1", 1, *acme_operator_));
  ASSERT_TRUE(issued.status.ok()) << issued.status.error_message();
  v1::RegistryEntry none;
  EXPECT_EQ(entry_at(issued.log_index, &none).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(entry_at(LogSize() + 10, &none).error_code(), grpc::StatusCode::NOT_FOUND);

  // A site's registration names its responsible persons and phones: read
  // as ListSites reads it (the enterprise, regulators who read sites), not
  // by another enterprise walking the log.
  v1::RegistryRequest site;
  site.set_request_id("site-WH-9");
  *site.mutable_register_site() = registry::testing::ExampleSite(kAcme, "WH-9");
  const uint64_t site_at = LogSize();
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*acme_admin_, site));
  v1::GetRegistryEntryRequest get_site;
  get_site.set_log_index(site_at);
  v1::RegistryEntry read_site;
  grpc::Status status = Read(*other_admin_, api::kGetRegistryEntryMethod, get_site, &read_site);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_NE(status.error_message().find("registers a site"), std::string::npos)
      << status.error_message();
  EXPECT_TRUE(read_site.entry().empty());
  for (const crypto::SigningKey* may : {acme_operator_.get(), regulator_.get(), admin_.get()}) {
    status = Read(*may, api::kGetRegistryEntryMethod, get_site, &read_site);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(read_site.log_index(), site_at);
  }

  // A responder's break-glass grant: the responder, the enterprise it names
  // and its overseers read it; another enterprise does not.
  const crypto::SigningKey responder = crypto::SigningKey::Generate();
  ASSERT_NO_FATAL_FAILURE(SubmitOk(*admin_, Actor("fire brigade 9", v1::RESPONDER, "", responder)));
  v1::RegistryRequest glass;
  glass.set_request_id("glass-WH-9");
  glass.mutable_break_glass()->set_enterprise_uscc(kAcme);
  glass.mutable_break_glass()->set_site("WH-9");
  glass.mutable_break_glass()->set_reason("119 火警: WH-9");
  const uint64_t glass_at = LogSize();
  ASSERT_NO_FATAL_FAILURE(SubmitOk(responder, glass));
  v1::GetRegistryEntryRequest get_glass;
  get_glass.set_log_index(glass_at);
  v1::RegistryEntry read_glass;
  status = Read(*other_admin_, api::kGetRegistryEntryMethod, get_glass, &read_glass);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  for (const crypto::SigningKey* may :
       std::vector<const crypto::SigningKey*>{&responder, acme_operator_.get(), regulator_.get()}) {
    status = Read(*may, api::kGetRegistryEntryMethod, get_glass, &read_glass);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(read_glass.log_index(), glass_at);
  }
}

TEST_F(RegistryE2eTest, TheDataDirectoryAndTheTlsKeyAreTheServersAlone) {
  // What init made (the fixture ran it): no one else may read, write or
  // enter any of it, but the public note verifier key.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_ + "/data")) {
    struct stat st;
    ASSERT_EQ(stat(entry.path().c_str(), &st), 0);
    if (entry.path().filename() == "note.vkey") {
      EXPECT_EQ(st.st_mode & 0777, 0644u) << entry.path();
    } else {
      EXPECT_EQ(st.st_mode & 077, 0u) << entry.path() << " mode " << std::oct << (st.st_mode & 0777);
    }
  }
  // init refuses a directory others may enter, and writes nothing into it.
  const std::string shared = dir_ + "/shared";
  ASSERT_TRUE(std::filesystem::create_directory(shared));
  std::filesystem::permissions(shared, std::filesystem::perms::owner_all |
                                           std::filesystem::perms::group_read |
                                           std::filesystem::perms::group_exec |
                                           std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
  auto [code, out] = RunChemledgerd({"init", "--data", shared, "--deployment", "x.example.cn",
                                     "--resolver", "CL.EXAMPLE.CN", "--admin-key",
                                     dir_ + "/admin.key", "--admin-name", "root"});
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("has mode 0755"), std::string::npos) << out;
  EXPECT_NE(out.find("chmod 700"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::is_empty(shared));
  // serve refuses a data directory others may enter (the running server's,
  // opened to others behind its back).
  chmod((dir_ + "/data").c_str(), 0755);
  std::tie(code, out) =
      RunChemledgerd({"serve", "--data", dir_ + "/data", "--listen", "127.0.0.1:0", "--plaintext"});
  chmod((dir_ + "/data").c_str(), 0700);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("has mode 0755"), std::string::npos) << out;
  // serve refuses a TLS private key others may read.
  {
    std::ofstream(dir_ + "/tls.crt") << "-----BEGIN CERTIFICATE-----\n";
    std::ofstream(dir_ + "/tls.key") << "-----BEGIN PRIVATE KEY-----\n";
  }
  chmod((dir_ + "/tls.key").c_str(), 0644);
  std::tie(code, out) = RunChemledgerd({"serve", "--data", dir_ + "/data", "--listen",
                                        "127.0.0.1:0", "--tls-cert", dir_ + "/tls.crt",
                                        "--tls-key", dir_ + "/tls.key"});
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("--tls-key"), std::string::npos) << out;
  EXPECT_NE(out.find("chmod 600"), std::string::npos) << out;
}

}  // namespace
}  // namespace chemledger
