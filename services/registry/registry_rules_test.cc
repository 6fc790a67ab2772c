// The registry's rules (registry_rules.h) on a whole ledger (TestLedger):
// genesis, who may register what, validation against the catalogue,
// duplicates, keys registered once, revocation, the blacklist, idempotent
// request ids, the state after a reopen, and a state rebuilt from the log
// (TestLedger::Check) that matches the stored one.

#include "services/registry/registry_rules.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "journal/journal.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/envelope.h"
#include "services/registry/catalogue.h"
#include "services/registry/logged_reference_tables.h"
#include "services/registry/product_flags.h"
#include "services/registry/reference_csv.h"
#include "services/registry/reference_tables.h"
#include "services/registry/registry_reads.h"
#include "services/registry/registry_state.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "storage/leveldb_log.h"
#include "testing/test_ledger.h"
#include "tests/subprocess.h"

namespace chemledger::registry {
namespace {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;
using chemledger::testing::TestLedgerOptions;

constexpr char kAcme[] = "91350100M000100Y43";
constexpr char kOther[] = "91110105771583283D";

v1::Product Methanol(const std::string& uscc, const std::string& number) {
  return testing::ExampleMethanol(uscc, number);
}

// A catalogue of one row: methanol (catalogue entry 1022) with UN number `un`.
std::shared_ptr<const Catalogue> MethanolCatalogue(const std::string& un) {
  absl::StatusOr<Catalogue> catalogue = Catalogue::Parse(absl::StrCat(
      "catalogue_no\tname_zh\tname_en\tcas\tun\thazard_class\tpacking_group\tflags\n",
      "1022\t甲醇\tMethanol\t67-56-1\t", un, "\t3\tII\t重点监管,高危\n"));
  EXPECT_TRUE(catalogue.ok()) << catalogue.status();
  return std::make_shared<const Catalogue>(*std::move(catalogue));
}

class RegistryRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger_ = TestLedger::Create("registry_rules", admin_);
    ASSERT_FALSE(HasFatalFailure());
    Ok(admin_, Enterprise(kAcme));
    Ok(admin_, Enterprise(kOther));
    Ok(admin_, AddActor("acme admin", v1::ENTERPRISE_ADMIN, kAcme, acme_admin_));
    Ok(admin_, AddActor("other admin", v1::ENTERPRISE_ADMIN, kOther, other_admin_));
    Ok(admin_, AddActor("inspector", v1::REGULATOR, "", regulator_));
  }

  v1::RegistryRequest Request() {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("req-", ++next_id_));
    return r;
  }
  v1::RegistryRequest Enterprise(const std::string& uscc) {
    v1::RegistryRequest r = Request();
    *r.mutable_register_enterprise() = testing::ExampleProducer(uscc);
    return r;
  }
  v1::RegistryRequest Product(const v1::Product& p) {
    v1::RegistryRequest r = Request();
    *r.mutable_register_product() = p;
    return r;
  }
  v1::RegistryRequest AddActor(const std::string& name, v1::ActorRole role,
                               const std::string& uscc, const crypto::SigningKey& key) {
    v1::RegistryRequest r = Request();
    *r.mutable_add_actor() = testing::ExampleActor(name, role, uscc, key.verifying_key());
    return r;
  }
  v1::RegistryRequest Revoke(const std::string& key_id, const std::string& reason) {
    v1::RegistryRequest r = Request();
    r.mutable_revoke_key()->set_key_id(key_id);
    r.mutable_revoke_key()->set_reason(reason);
    return r;
  }
  v1::RegistryRequest Blacklist(const std::string& uscc, bool blacklisted,
                                const std::string& reason) {
    v1::RegistryRequest r = Request();
    r.mutable_blacklist()->set_enterprise_uscc(uscc);
    r.mutable_blacklist()->set_blacklisted(blacklisted);
    r.mutable_blacklist()->set_reason(reason);
    return r;
  }
  v1::SignedEnvelope Signed(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    absl::StatusOr<v1::SignedEnvelope> e =
        envelope::Sign(kRegistryContext, r.SerializeAsString(), key);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : v1::SignedEnvelope();
  }
  // As RegistryService.Submit: verify the signature, then the journal.
  absl::StatusOr<journal::Receipt> Submit(const v1::SignedEnvelope& env) {
    const v1::SignedEnvelope* one[] = {&env};
    return std::move(SubmitSigned(ledger_->client(), one, kRegistryContext)[0]);
  }
  void Ok(const crypto::SigningKey& key, const v1::RegistryRequest& r) {
    absl::StatusOr<journal::Receipt> receipt = ledger_->Registry(key, r);
    ASSERT_TRUE(receipt.ok()) << receipt.status();
    EXPECT_FALSE(receipt->replayed);
  }
  // The request is refused with `code` and a message containing `fragment`,
  // and the log does not grow.
  void Refused(const v1::SignedEnvelope& env, absl::StatusCode code, const std::string& fragment) {
    const uint64_t before = ledger_->snapshot()->size();
    absl::StatusOr<journal::Receipt> receipt = Submit(env);
    ASSERT_FALSE(receipt.ok()) << "accepted; expected: " << fragment;
    EXPECT_EQ(receipt.status().code(), code) << receipt.status();
    EXPECT_NE(receipt.status().message().find(fragment), std::string::npos) << receipt.status();
    EXPECT_EQ(ledger_->snapshot()->size(), before) << "a refused request wrote to the log";
  }
  void Refused(const crypto::SigningKey& key, const v1::RegistryRequest& r, absl::StatusCode code,
               const std::string& fragment) {
    Refused(Signed(key, r), code, fragment);
  }

  // Lookups at the latest snapshot; a failed read fails the test.
  std::optional<v1::Product> FindProductNow(const std::string& uscc, const std::string& number) {
    absl::StatusOr<std::optional<v1::Product>> p =
        FindProduct(*ledger_->snapshot(), uscc, number);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : std::nullopt;
  }
  std::optional<EnterpriseRecord> FindEnterpriseNow(const std::string& uscc) {
    absl::StatusOr<std::optional<EnterpriseRecord>> e = FindEnterprise(*ledger_->snapshot(), uscc);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : std::nullopt;
  }
  std::optional<state::ActorRecord> FindActorNow(const crypto::KeyId& id) {
    absl::StatusOr<std::optional<state::ActorRecord>> a = FindActor(*ledger_->snapshot(), id);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : std::nullopt;
  }
  // The RegistryAssignment logged with entry `index`.
  v1::RegistryAssignment LoggedAssignment(uint64_t index) {
    absl::StatusOr<std::string> bytes = ledger_->snapshot()->Entry(index);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    v1::LogEntry entry;
    v1::RegistryAssignment assignment;
    EXPECT_TRUE(bytes.ok() && entry.ParseFromString(*bytes));
    EXPECT_TRUE(assignment.ParseFromString(entry.assignment()));
    return assignment;
  }

  // The state rebuilt from the whole log is the stored state.
  void ExpectCheckPasses() {
    absl::StatusOr<journal::CheckReport> report = ledger_->Check();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->entries, ledger_->snapshot()->size());
    EXPECT_GT(report->state_keys, 0u);
  }

  const crypto::SigningKey admin_ = TestKey(1), acme_admin_ = TestKey(2),
                           other_admin_ = TestKey(3), regulator_ = TestKey(4),
                           stranger_ = TestKey(5);
  std::unique_ptr<TestLedger> ledger_;
  int next_id_ = 0;
};

TEST_F(RegistryRulesTest, RegulatorsComeWithADepartmentAndAJurisdiction) {
  v1::RegistryRequest park = Request();
  *park.mutable_register_park() = testing::ExamplePark("FZ-JIANGYIN");
  Ok(admin_, park);
  const auto regulator = [&](const std::string& name, int seed,
                             const std::function<void(v1::Actor*)>& change) {
    v1::RegistryRequest r = AddActor(name, v1::REGULATOR, "", TestKey(seed));
    change(r.mutable_add_actor());
    return r;
  };
  // Accepted: a province, a city, a county, a park, the whole country.
  Ok(admin_, regulator("福建省应急管理厅", 20, [](v1::Actor* a) {
       a->mutable_jurisdiction()->set_national(false);
       a->mutable_jurisdiction()->set_region_prefix("35");
     }));
  Ok(admin_, regulator("福州市交通运输局", 21, [](v1::Actor* a) {
       a->set_department(v1::TRANSPORT);
       a->mutable_jurisdiction()->set_national(false);
       a->mutable_jurisdiction()->set_region_prefix("3501");
     }));
  Ok(admin_, regulator("江阴园区管委会", 22, [](v1::Actor* a) {
       a->set_department(v1::PARK_ADMINISTRATION);
       a->mutable_jurisdiction()->set_national(false);
       a->mutable_jurisdiction()->set_park_id("FZ-JIANGYIN");
     }));
  Ok(admin_, regulator("应急管理部", 19, [](v1::Actor*) {}));  // national
  // Refused, naming the field and the rule.
  Refused(admin_, regulator("no department", 23, [](v1::Actor* a) { a->clear_department(); }),
          absl::StatusCode::kInvalidArgument, "actor.department: is required for a regulator");
  Refused(admin_, regulator("nowhere", 23, [](v1::Actor* a) { a->clear_jurisdiction(); }),
          absl::StatusCode::kInvalidArgument,
          "actor.jurisdiction: exactly one of national, region_prefix or park_id");
  Refused(admin_, regulator("two places", 23, [](v1::Actor* a) {
            a->mutable_jurisdiction()->set_region_prefix("35");
          }),
          absl::StatusCode::kInvalidArgument, "actor.jurisdiction: exactly one of");
  Refused(admin_, regulator("bad region", 23, [](v1::Actor* a) {
            a->mutable_jurisdiction()->set_national(false);
            a->mutable_jurisdiction()->set_region_prefix("350");
          }),
          absl::StatusCode::kInvalidArgument, "actor.jurisdiction.region_prefix: '350' must be");
  Refused(admin_, regulator("park admin of the country", 23, [](v1::Actor* a) {
            a->set_department(v1::PARK_ADMINISTRATION);
          }),
          absl::StatusCode::kInvalidArgument,
          "actor.jurisdiction.park_id: a park administration's jurisdiction is its park");
  Refused(admin_, regulator("unknown park", 23, [](v1::Actor* a) {
            a->mutable_jurisdiction()->set_national(false);
            a->mutable_jurisdiction()->set_park_id("NOWHERE");
          }),
          absl::StatusCode::kNotFound, "actor.jurisdiction.park_id: park 'NOWHERE'");
  v1::RegistryRequest operator_with_department =
      AddActor("acme operator", v1::ENTERPRISE_OPERATOR, kAcme, TestKey(24));
  operator_with_department.mutable_add_actor()->set_department(v1::TRANSPORT);
  Refused(admin_, operator_with_department, absl::StatusCode::kInvalidArgument,
          "only a REGULATOR has them");

  // A platform administrator assigns (or changes) a regulator's scope.
  v1::RegistryRequest assign = Request();
  assign.mutable_assign_regulator()->set_key_id(TestKey(21).key_id().ToString());
  assign.mutable_assign_regulator()->set_department(v1::PUBLIC_SECURITY);
  assign.mutable_assign_regulator()->mutable_jurisdiction()->set_region_prefix("350102");
  Refused(regulator_, assign, absl::StatusCode::kPermissionDenied, "assign regulators");
  Ok(admin_, assign);
  absl::StatusOr<std::optional<state::ActorRecord>> record =
      FindActor(*ledger_->snapshot(), TestKey(21).key_id());
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->actor().department(), v1::PUBLIC_SECURITY);
  EXPECT_EQ((*record)->actor().jurisdiction().region_prefix(), "350102");
  v1::RegistryRequest not_regulator = Request();
  not_regulator.mutable_assign_regulator()->set_key_id(acme_admin_.key_id().ToString());
  not_regulator.mutable_assign_regulator()->set_department(v1::TRANSPORT);
  not_regulator.mutable_assign_regulator()->mutable_jurisdiction()->set_national(true);
  Refused(admin_, not_regulator, absl::StatusCode::kNotFound, "is not a registered regulator's key");

  // Under the rules of an earlier epoch (the waybill-consent deprecation
  // window) a regulator is added as before, without either.
  TestLedgerOptions legacy;
  legacy.rules_epoch = 3;
  ledger_->Reopen(legacy);
  Ok(admin_, regulator("legacy inspector", 25, [](v1::Actor* a) {
       a->clear_department();
       a->clear_jurisdiction();
     }));
  ledger_->Reopen();
  absl::StatusOr<journal::CheckReport> check = ledger_->Check();
  EXPECT_TRUE(check.ok()) << check.status();
}

TEST_F(RegistryRulesTest, SitesAndParksAreRegisteredByWhoRunsThem) {
  v1::RegistryRequest park = Request();
  *park.mutable_register_park() = testing::ExamplePark("FZ-JIANGYIN");
  Refused(acme_admin_, park, absl::StatusCode::kPermissionDenied, "may not register parks");
  Ok(admin_, park);

  v1::RegistryRequest site = Request();
  *site.mutable_register_site() = testing::ExampleSite(kAcme, "WH-3");
  site.mutable_register_site()->set_park_id("FZ-JIANGYIN");
  Refused(other_admin_, site, absl::StatusCode::kPermissionDenied,
          absl::StrCat("may not register sites of enterprise ", kAcme));
  Refused(regulator_, site, absl::StatusCode::kPermissionDenied, "may not register sites");
  Ok(acme_admin_, site);
  // Changed by registering it again.
  v1::RegistryRequest changed = Request();
  *changed.mutable_register_site() = testing::ExampleSite(kAcme, "WH-3");
  changed.mutable_register_site()->set_park_id("FZ-JIANGYIN");
  changed.mutable_register_site()->set_major_hazard_grade(v1::GRADE_3);
  Ok(acme_admin_, changed);
  absl::StatusOr<std::vector<v1::Site>> sites = ListSites(*ledger_->snapshot(), kAcme);
  ASSERT_TRUE(sites.ok()) << sites.status();
  ASSERT_EQ(sites->size(), 1u);
  EXPECT_EQ(sites->front().major_hazard_grade(), v1::GRADE_3);
  EXPECT_TRUE(*HasSites(*ledger_->snapshot(), kAcme));
  EXPECT_FALSE(*HasSites(*ledger_->snapshot(), kOther));

  // Refusals name the field.
  const auto refused_site = [&](const std::function<void(v1::Site*)>& change,
                                const std::string& fragment) {
    v1::RegistryRequest r = Request();
    *r.mutable_register_site() = testing::ExampleSite(kAcme, "WH-4");
    change(r.mutable_register_site());
    Refused(acme_admin_, r, absl::StatusCode::kInvalidArgument, fragment);
  };
  refused_site([](v1::Site* s) { s->set_site_id("wh 4"); }, "site.site_id");
  refused_site([](v1::Site* s) { s->set_major_hazard_grade(v1::MAJOR_HAZARD_GRADE_UNSPECIFIED); },
               "site.major_hazard_grade");
  refused_site([](v1::Site* s) { s->mutable_capacities(1)->set_hazard_class("3"); },
               "site.capacities[1].hazard_class: 3 is listed twice");
  refused_site([](v1::Site* s) { s->mutable_capacities(0)->set_unit("H87"); },
               "site.capacities[0].unit");
  // A whole class ("2") or a division; nothing else.
  refused_site([](v1::Site* s) { s->mutable_capacities(0)->set_hazard_class("3.1"); },
               "site.capacities[0].hazard_class: '3.1' is not a GB 6944 class or division");
  refused_site([](v1::Site* s) { s->mutable_capacities(0)->set_hazard_class("10"); },
               "site.capacities[0].hazard_class");
  refused_site([](v1::Site* s) { s->mutable_technical()->set_phone("x"); },
               "site.technical.phone");
  refused_site([](v1::Site* s) { s->add_licensed_cas("67-56-2"); }, "site.licensed_cas[1]");
  {
    v1::RegistryRequest gases = Request();
    *gases.mutable_register_site() = testing::ExampleSite(kAcme, "GAS-1");
    gases.mutable_register_site()->mutable_capacities(0)->set_hazard_class("2");
    Ok(acme_admin_, gases);  // a whole class is a capacity's class too
  }
  v1::RegistryRequest unknown_park = Request();
  *unknown_park.mutable_register_site() = testing::ExampleSite(kAcme, "WH-5");
  unknown_park.mutable_register_site()->set_park_id("NOWHERE");
  Refused(acme_admin_, unknown_park, absl::StatusCode::kNotFound, "site.park_id: park NOWHERE");

  // From rules epoch 10 an enterprise does not take its site out of the
  // park (out of the park regulators' oversight) by itself; the platform
  // may move it.
  v1::RegistryRequest leave = Request();
  *leave.mutable_register_site() = testing::ExampleSite(kAcme, "WH-3");
  Refused(acme_admin_, leave, absl::StatusCode::kPermissionDenied,
          "site.park_id: site WH-3 is registered in park 'FZ-JIANGYIN'; only a platform "
          "administrator moves a site");
  Ok(admin_, leave);
  ExpectCheckPasses();
}

// From rules epoch 10 a registration is bounded: a text of kilobytes, or a
// request over 64 KiB, is refused naming the field.
TEST_F(RegistryRulesTest, RegistrationsAreBoundedInSize) {
  v1::Product long_name = Methanol(kAcme, "BIG1");
  long_name.set_name_en(std::string(kMaxRegistryTextBytes + 1, 'x'));
  Refused(acme_admin_, Product(long_name), absl::StatusCode::kInvalidArgument,
          "request.register_product.name_en: 4097 bytes; at most 4096");
  v1::Product many = Methanol(kAcme, "BIG2");
  for (int i = 0; i < 40; ++i) many.add_precautionary_statements(std::string(4000, 'P'));
  Refused(acme_admin_, Product(many), absl::StatusCode::kInvalidArgument, "envelope.payload: ");
  v1::Product odd_code = Methanol(kAcme, "BIG3");
  odd_code.add_hazard_statements("H225<>");
  Refused(acme_admin_, Product(odd_code), absl::StatusCode::kInvalidArgument,
          "]: 'H225<>' must be a GHS hazard statement code");
  v1::Product fine = Methanol(kAcme, "BIG4");
  fine.set_name_en(std::string(kMaxRegistryTextBytes, 'x'));
  Ok(acme_admin_, Product(fine));

  // Under epoch 9 such a name was taken (entries of that epoch rebuild so).
  TestLedgerOptions epoch9;
  epoch9.rules_epoch = 9;
  ledger_->Reopen(epoch9);
  Ok(acme_admin_, Product(long_name));
  ledger_->Reopen(TestLedgerOptions());
  ExpectCheckPasses();
}

// From rules epoch 10 the public list's date is the day of the decision,
// within the year before it is recorded; none given, the day it is recorded.
TEST_F(RegistryRulesTest, ABlacklistingIsDatedWithinTheYearBeforeItIsRecorded) {
  v1::RegistryRequest future = Blacklist(kOther, true, "storage without licence");
  *future.mutable_blacklist()->mutable_date() = api::ToProtoDate(api::TodayInChina() + 2);
  Refused(regulator_, future, absl::StatusCode::kInvalidArgument, "blacklist.date: must be");
  v1::RegistryRequest ancient = Blacklist(kOther, true, "storage without licence");
  ancient.mutable_blacklist()->mutable_date()->set_year(1990);
  ancient.mutable_blacklist()->mutable_date()->set_month(1);
  ancient.mutable_blacklist()->mutable_date()->set_day(1);
  Refused(regulator_, ancient, absl::StatusCode::kInvalidArgument, "blacklist.date: must be");
  Ok(regulator_, Blacklist(kOther, true, "storage without licence"));
  bool more = false;
  absl::StatusOr<std::vector<BlacklistedEnterprise>> listed =
      ListBlacklist(*ledger_->snapshot(), "", 10, &more);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  const v1::Date& date = listed->front().record.date();
  EXPECT_EQ(api::FromProtoDate(date), api::ChinaDay(absl::Now())) << date.ShortDebugString();
  ExpectCheckPasses();
}

// A platform administrator adds an enterprise's renewed or new licence, or
// ends one the authority revoked, from a day on (rules epoch 19); nobody
// else may, and each change is checked as a registration's licence is.
TEST_F(RegistryRulesTest, LicencesAreRenewedAndEndedByAPlatformAdministrator) {
  const auto change = [&](const std::function<void(v1::LicenceChange*)>& fill) {
    v1::RegistryRequest r = Request();
    v1::LicenceChange* c = r.mutable_change_licence();
    c->set_enterprise_uscc(kAcme);
    c->set_reason("换证");
    fill(c);
    return r;
  };
  const v1::Licence registered = testing::ExampleProducer(kAcme).licences(0);
  const absl::CivilDay today = api::TodayInChina();
  v1::Licence renewed = registered;
  *renewed.mutable_valid_from() = api::ToProtoDate(today);
  *renewed.mutable_valid_until() = api::ToProtoDate(today + 5 * 365);
  const auto add = [&](const v1::Licence& l) {
    return change([&](v1::LicenceChange* c) { *c->mutable_add() = l; });
  };
  Refused(acme_admin_, add(renewed), absl::StatusCode::kPermissionDenied,
          "may not change enterprises' licences");
  Refused(admin_, change([&](v1::LicenceChange* c) {
            *c->mutable_add() = renewed;
            c->clear_reason();
          }),
          absl::StatusCode::kInvalidArgument, "change_licence.reason: is required");
  Refused(admin_, change([&](v1::LicenceChange* c) {
            *c->mutable_add() = renewed;
            c->set_enterprise_uscc(testing::ExampleUscc("350199"));
          }),
          absl::StatusCode::kNotFound, "is not registered");
  v1::Licence backwards = renewed;
  *backwards.mutable_valid_until() = api::ToProtoDate(today - 1);
  Refused(admin_, add(backwards), absl::StatusCode::kInvalidArgument,
          "change_licence.add.valid_until: is before valid_from");
  Refused(admin_, change([](v1::LicenceChange*) {}), absl::StatusCode::kInvalidArgument,
          "change_licence: give add or end");

  // Renewed under the same number: replaced.
  Ok(admin_, add(renewed));
  std::optional<EnterpriseRecord> acme = FindEnterpriseNow(kAcme);
  ASSERT_TRUE(acme.has_value());
  ASSERT_EQ(acme->enterprise.licences_size(), 1);
  EXPECT_EQ(api::FromProtoDate(acme->enterprise.licences(0).valid_until()), today + 5 * 365);
  // A licence of another type: added beside it.
  v1::Licence trade;
  trade.set_type(v1::HAZARDOUS_CHEMICALS_TRADE);
  trade.set_number("闽榕应急经字[2026]000123");
  *trade.mutable_valid_from() = api::ToProtoDate(today);
  *trade.mutable_valid_until() = api::ToProtoDate(today + 3 * 365);
  Ok(admin_, add(trade));
  ASSERT_EQ(FindEnterpriseNow(kAcme)->enterprise.licences_size(), 2);

  // Revoked from today: valid until yesterday.
  const auto end = [&](const v1::Licence& l, absl::CivilDay on) {
    return change([&, on](v1::LicenceChange* c) {
      c->set_reason("吊销：闽应急罚〔2026〕12号");
      c->mutable_end()->set_type(l.type());
      c->mutable_end()->set_number(l.number());
      *c->mutable_end()->mutable_ended_on() = api::ToProtoDate(on);
    });
  };
  Refused(admin_, end(trade, today + 31), absl::StatusCode::kInvalidArgument,
          "change_licence.end.ended_on: must be a date from a year before");
  v1::Licence unknown = trade;
  unknown.set_number("闽榕应急经字[2026]999999");
  Refused(admin_, end(unknown, today), absl::StatusCode::kNotFound,
          "holds no HAZARDOUS_CHEMICALS_TRADE licence numbered");
  Ok(admin_, end(trade, today));
  acme = FindEnterpriseNow(kAcme);
  ASSERT_EQ(acme->enterprise.licences_size(), 2);
  EXPECT_EQ(api::FromProtoDate(acme->enterprise.licences(1).valid_until()), today - 1);
  ExpectCheckPasses();

  // Before epoch 19 a request knew no such change.
  TestLedgerOptions epoch18;
  epoch18.rules_epoch = 18;
  ledger_->Reopen(epoch18);
  Refused(admin_, add(renewed), absl::StatusCode::kInvalidArgument, "no change given");
}

TEST_F(RegistryRulesTest, EnterpriseAdminRegistersProductsAndStateSurvivesReopen) {
  Ok(acme_admin_, Product(Methanol(kAcme, "ME01")));
  std::optional<v1::Product> product = FindProductNow(kAcme, "ME01");
  ASSERT_TRUE(product.has_value());
  EXPECT_EQ(product->cas(), "67-56-1");
  const uint64_t size = ledger_->snapshot()->size();

  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(FindProductNow(kAcme, "ME01").has_value());
  EXPECT_TRUE(FindEnterpriseNow(kOther).has_value());
  absl::StatusOr<v1::Actor> acme_admin = ActiveSigner(*ledger_->snapshot(), acme_admin_.key_id());
  ASSERT_TRUE(acme_admin.ok()) << acme_admin.status();
  EXPECT_EQ(acme_admin->name(), "acme admin");
  absl::StatusOr<std::vector<v1::Product>> listed = ListProducts(*ledger_->snapshot(), kAcme);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].product_number(), "ME01");
  absl::StatusOr<state::DeploymentRecord> deployment = ReadDeployment(*ledger_->snapshot());
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_EQ(deployment->deployment(), "test");
  EXPECT_EQ(deployment->resolver(), "CL.EXAMPLE.CN");
  EXPECT_EQ(ledger_->snapshot()->size(), size);
  ExpectCheckPasses();
}

TEST_F(RegistryRulesTest, RetriesAreIdempotent) {
  const v1::RegistryRequest r = Product(Methanol(kAcme, "ME02"));
  absl::StatusOr<journal::Receipt> first = ledger_->Registry(acme_admin_, r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->replayed);
  const uint64_t size = ledger_->snapshot()->size();
  absl::StatusOr<journal::Receipt> again = ledger_->Registry(acme_admin_, r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->index, first->index);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->leaf_hash, first->leaf_hash);
  EXPECT_EQ(ledger_->snapshot()->size(), size);

  // The request ids are in the store: a retry after a restart is answered
  // the same way.
  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  absl::StatusOr<journal::Receipt> after_restart = ledger_->Registry(acme_admin_, r);
  ASSERT_TRUE(after_restart.ok()) << after_restart.status();
  EXPECT_EQ(after_restart->index, first->index);
  EXPECT_TRUE(after_restart->replayed);
  EXPECT_EQ(ledger_->snapshot()->size(), size);

  v1::RegistryRequest changed = r;
  changed.mutable_register_product()->set_product_number("ME03");
  Refused(acme_admin_, changed, absl::StatusCode::kAlreadyExists, "already used");
  EXPECT_FALSE(FindProductNow(kAcme, "ME03").has_value());
  ExpectCheckPasses();
}

// Request ids are unique per enterprise: another enterprise's use of an id
// neither blocks it nor shows that it exists; within one enterprise (any of
// its actors) a reuse with other bytes is refused.
TEST_F(RegistryRulesTest, RequestIdsAreScopedByTheSignersEnterprise) {
  v1::RegistryRequest acme = Product(Methanol(kAcme, "ME04"));
  acme.set_request_id("products-2026-11");
  Ok(acme_admin_, acme);
  v1::RegistryRequest other = Product(Methanol(kOther, "ME04"));
  other.set_request_id("products-2026-11");
  Ok(other_admin_, other);
  EXPECT_TRUE(FindProductNow(kOther, "ME04").has_value());
  // A second actor of Acme shares Acme's ids.
  const crypto::SigningKey acme_operator = TestKey(30);
  Ok(acme_admin_, AddActor("acme operator", v1::ENTERPRISE_OPERATOR, kAcme, acme_operator));
  v1::RegistryRequest reuse = Product(Methanol(kAcme, "ME05"));
  reuse.set_request_id("products-2026-11");
  Refused(acme_operator, reuse, absl::StatusCode::kAlreadyExists,
          "request.request_id: 'products-2026-11' was already used");
  // Actors of no enterprise (platform administrators, regulators) share the
  // platform's.
  v1::RegistryRequest platform = Blacklist(kOther, true, "late licence renewal");
  platform.set_request_id("products-2026-11");
  Ok(regulator_, platform);
  ExpectCheckPasses();
}

// The blacklist is public: who is on it, why, since when, listed by whom;
// lifting takes an enterprise off.
TEST_F(RegistryRulesTest, TheBlacklistListsWhoIsOnItAndWhy) {
  Ok(regulator_, Blacklist(kOther, true, "storage without licence"));
  Ok(regulator_, Blacklist(kAcme, true, "false declarations"));
  bool more = true;
  absl::StatusOr<std::vector<BlacklistedEnterprise>> listed =
      ListBlacklist(*ledger_->snapshot(), "", 10, &more);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_FALSE(more);
  const BlacklistedEnterprise& other =
      (*listed)[0].uscc == kOther ? (*listed)[0] : (*listed)[1];
  EXPECT_EQ(other.record.reason(), "storage without licence");
  EXPECT_EQ(other.record.listed_by(), "regulator");
  EXPECT_FALSE(other.name.empty());
  EXPECT_GT(other.record.log_index(), 0u);
  // A page at a time, by USCC.
  absl::StatusOr<std::vector<BlacklistedEnterprise>> first =
      ListBlacklist(*ledger_->snapshot(), "", 1, &more);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_TRUE(more);
  absl::StatusOr<std::vector<BlacklistedEnterprise>> second =
      ListBlacklist(*ledger_->snapshot(), first->front().uscc, 1, &more);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_NE(second->front().uscc, first->front().uscc);
  EXPECT_FALSE(more);
  // Lifted: off the list.
  Ok(regulator_, Blacklist(kAcme, false, "declarations corrected"));
  listed = ListBlacklist(*ledger_->snapshot(), "", 10, &more);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().uscc, kOther);
  ExpectCheckPasses();
}

// The registry refusals the labels issue lists, each leaving the log as it was.
TEST_F(RegistryRulesTest, Refusals) {
  v1::RegistryRequest bad_uscc = Enterprise(kAcme);
  bad_uscc.mutable_register_enterprise()->set_uscc("91350100M000100Y44");
  Refused(admin_, bad_uscc, absl::StatusCode::kInvalidArgument,
          "enterprise.uscc: '91350100M000100Y44' has check character");
  v1::Product bad_cas = Methanol(kAcme, "X1");
  bad_cas.set_cas("67-56-2");
  Refused(acme_admin_, Product(bad_cas), absl::StatusCode::kInvalidArgument, "product.cas");
  v1::Product mismatch = Methanol(kAcme, "X2");
  mismatch.set_un_number("1090");
  Refused(acme_admin_, Product(mismatch), absl::StatusCode::kInvalidArgument,
          "product.un_number: 1090 does not match CAS 67-56-1");

  Ok(acme_admin_, Product(Methanol(kAcme, "ME01")));
  Refused(acme_admin_, Product(Methanol(kAcme, "ME01")), absl::StatusCode::kAlreadyExists,
          "product.product_number: ME01 is already registered");
  Refused(admin_, Product(Methanol("91440300708461136T", "ME01")), absl::StatusCode::kNotFound,
          "enterprise 91440300708461136T is not registered");
  // Another enterprise's admin.
  Refused(other_admin_, Product(Methanol(kAcme, "ME09")), absl::StatusCode::kPermissionDenied,
          "may not register products of enterprise");
  // Unknown key; unsigned request.
  Refused(stranger_, Product(Methanol(kAcme, "ME09")), absl::StatusCode::kUnauthenticated,
          "is not registered");
  v1::SignedEnvelope unsigned_env = Signed(acme_admin_, Product(Methanol(kAcme, "ME09")));
  unsigned_env.clear_signatures();
  Refused(unsigned_env, absl::StatusCode::kInvalidArgument, "unsigned request");
  // Signed by one actor, claiming another's key.
  v1::SignedEnvelope forged = Signed(stranger_, Product(Methanol(kAcme, "ME09")));
  forged.mutable_signatures(0)->set_key_id(acme_admin_.key_id().ToString());
  Refused(forged, absl::StatusCode::kUnauthenticated, "does not verify");
  // The payload changed after signing.
  v1::SignedEnvelope altered = Signed(acme_admin_, Product(Methanol(kAcme, "ME09")));
  v1::RegistryRequest other_product = Product(Methanol(kAcme, "ME10"));
  altered.set_payload(other_product.SerializeAsString());
  Refused(altered, absl::StatusCode::kUnauthenticated, "envelope.signatures[0].sig");
  // A request id is required.
  v1::RegistryRequest no_id = Product(Methanol(kAcme, "ME09"));
  no_id.clear_request_id();
  Refused(Signed(acme_admin_, no_id), absl::StatusCode::kInvalidArgument, "request.request_id");
  EXPECT_FALSE(FindProductNow(kAcme, "ME09").has_value());
  ExpectCheckPasses();
}

TEST_F(RegistryRulesTest, WhoMayRegisterWhat) {
  const std::string carrier = testing::ExampleUscc("330200");
  const std::string importer = testing::ExampleUscc("310100");
  v1::RegistryRequest carrier_request = Request();
  *carrier_request.mutable_register_enterprise() =
      testing::ExampleEnterprise(carrier, v1::CARRIER, v1::ROAD_TRANSPORT);
  // Only platform administrators register enterprises.
  Refused(acme_admin_, carrier_request, absl::StatusCode::kPermissionDenied,
          "actor 'acme admin' (ENTERPRISE_ADMIN) may not register enterprises");
  Refused(regulator_, carrier_request, absl::StatusCode::kPermissionDenied,
          "may not register enterprises");
  Ok(admin_, carrier_request);
  Refused(admin_, Enterprise(kAcme), absl::StatusCode::kAlreadyExists,
          "enterprise.uscc: 91350100M000100Y43 is already registered");
  v1::RegistryRequest importer_request = Request();
  *importer_request.mutable_register_enterprise() =
      testing::ExampleEnterprise(importer, v1::IMPORTER, v1::HAZARDOUS_CHEMICALS_TRADE);
  Ok(admin_, importer_request);

  // Platform administrators and regulators: only platform administrators add
  // them, with no enterprise.
  Refused(acme_admin_, AddActor("second inspector", v1::REGULATOR, "", TestKey(10)),
          absl::StatusCode::kPermissionDenied, "may not add platform administrators, regulators or park gates");
  Refused(regulator_, AddActor("second root", v1::PLATFORM_ADMIN, "", TestKey(10)),
          absl::StatusCode::kPermissionDenied, "may not add platform administrators, regulators or park gates");
  Refused(admin_, AddActor("inspector of acme", v1::REGULATOR, kAcme, TestKey(10)),
          absl::StatusCode::kInvalidArgument, "actor.enterprise_uscc: must be empty");
  Refused(admin_, AddActor("", v1::REGULATOR, "", TestKey(10)),
          absl::StatusCode::kInvalidArgument, "actor.name: is required");
  Refused(admin_, AddActor("nobody", v1::ACTOR_ROLE_UNSPECIFIED, "", TestKey(10)),
          absl::StatusCode::kInvalidArgument, "actor.role");

  // An enterprise's actors: its admin or a platform administrator adds them.
  const crypto::SigningKey acme_operator = TestKey(11);
  Ok(acme_admin_, AddActor("acme line 1", v1::ENTERPRISE_OPERATOR, kAcme, acme_operator));
  Refused(acme_admin_, AddActor("spy", v1::ENTERPRISE_OPERATOR, kOther, TestKey(12)),
          absl::StatusCode::kPermissionDenied, "may not add actors to enterprise " +
                                                   std::string(kOther));
  Refused(acme_operator, AddActor("helper", v1::ENTERPRISE_OPERATOR, kAcme, TestKey(12)),
          absl::StatusCode::kPermissionDenied, "may not add actors to enterprise");
  Refused(admin_, AddActor("ghost", v1::ENTERPRISE_OPERATOR, "91440300708461136T", TestKey(12)),
          absl::StatusCode::kNotFound,
          "actor.enterprise_uscc: enterprise '91440300708461136T' is not registered");
  Ok(admin_, AddActor("other line 1", v1::ENTERPRISE_OPERATOR, kOther, TestKey(12)));

  // Products: an enterprise admin (not an operator, not a regulator) or a
  // platform administrator, for producers and importers only.
  Refused(acme_operator, Product(Methanol(kAcme, "ME01")), absl::StatusCode::kPermissionDenied,
          "actor 'acme line 1' (ENTERPRISE_OPERATOR) may not register products of enterprise");
  Refused(regulator_, Product(Methanol(kAcme, "ME01")), absl::StatusCode::kPermissionDenied,
          "may not register products of enterprise");
  Refused(admin_, Product(Methanol(carrier, "ME01")), absl::StatusCode::kFailedPrecondition,
          "is neither a producer nor an importer");
  Ok(admin_, Product(Methanol(importer, "ME01")));
  Ok(admin_, Product(Methanol(kAcme, "ME01")));
  EXPECT_TRUE(FindProductNow(importer, "ME01").has_value());
  EXPECT_TRUE(FindProductNow(kAcme, "ME01").has_value());
  EXPECT_FALSE(FindProductNow(carrier, "ME01").has_value());

  // A request with no change.
  Refused(admin_, Request(), absl::StatusCode::kInvalidArgument, "request.change");
  ExpectCheckPasses();
}

TEST_F(RegistryRulesTest, KeysAreRegisteredOnceAndRevokedOnce) {
  const crypto::SigningKey acme_operator = TestKey(11);
  Ok(acme_admin_, AddActor("acme line 1", v1::ENTERPRISE_OPERATOR, kAcme, acme_operator));
  // An actor key, again: as another actor or as a label key.
  Refused(admin_, AddActor("acme admin again", v1::ENTERPRISE_ADMIN, kAcme, acme_admin_),
          absl::StatusCode::kAlreadyExists,
          "actor.public_key: key " + acme_admin_.key_id().ToString() + " is already registered");
  v1::RegistryRequest as_label_key = Request();
  as_label_key.mutable_add_label_key()->set_public_key(acme_operator.verifying_key().ToBytes());
  *as_label_key.mutable_add_label_key()->mutable_valid_from() = ToProtoDate(api::TodayInChina());
  *as_label_key.mutable_add_label_key()->mutable_valid_until() =
      ToProtoDate(api::TodayInChina() + 30);
  Refused(admin_, as_label_key, absl::StatusCode::kAlreadyExists,
          "add_label_key.public_key: key " + acme_operator.key_id().ToString() +
              " is already registered");
  // A label key, again.
  absl::StatusOr<crypto::KeyId> label_key = ledger_->AddLabelKey(admin_);
  ASSERT_TRUE(label_key.ok()) << label_key.status();
  absl::StatusOr<std::optional<LabelKeyState>> label_state =
      FindLabelKey(*ledger_->snapshot(), *label_key);
  ASSERT_TRUE(label_state.ok()) << label_state.status();
  ASSERT_TRUE(label_state->has_value());
  v1::RegistryRequest label_again = Request();
  *label_again.mutable_add_label_key() = as_label_key.add_label_key();
  label_again.mutable_add_label_key()->set_public_key((*label_state)->key.ToBytes());
  Refused(admin_, label_again, absl::StatusCode::kAlreadyExists, "add_label_key.public_key");

  // Revocation: of an enterprise key by its own admin, not another's.
  Refused(other_admin_, Revoke(acme_operator.key_id().ToString(), "not mine"),
          absl::StatusCode::kPermissionDenied,
          "may not revoke key " + acme_operator.key_id().ToString());
  Refused(acme_admin_, Revoke(regulator_.key_id().ToString(), "annoying"),
          absl::StatusCode::kPermissionDenied, "may not revoke key");
  Refused(acme_admin_, Revoke(acme_operator.key_id().ToString(), ""),
          absl::StatusCode::kInvalidArgument, "revoke_key.reason: is required");
  Refused(acme_admin_, Revoke("not a key id", "x"), absl::StatusCode::kInvalidArgument,
          "revoke_key.key_id");
  Refused(acme_admin_, Revoke(stranger_.key_id().ToString(), "x"), absl::StatusCode::kNotFound,
          "revoke_key.key_id: key " + stranger_.key_id().ToString() + " is not registered");
  Ok(acme_admin_, Revoke(acme_operator.key_id().ToString(), "left the company"));
  Refused(acme_admin_, Revoke(acme_operator.key_id().ToString(), "again"),
          absl::StatusCode::kFailedPrecondition, "is already revoked");
  std::optional<state::ActorRecord> revoked = FindActorNow(acme_operator.key_id());
  ASSERT_TRUE(revoked.has_value());
  EXPECT_TRUE(revoked->revoked());
  EXPECT_EQ(revoked->revoked_reason(), "left the company");
  // A revoked key stays registered: it cannot come back.
  Refused(acme_admin_, AddActor("acme line 1 again", v1::ENTERPRISE_OPERATOR, kAcme, acme_operator),
          absl::StatusCode::kAlreadyExists, "actor.public_key");

  // A label key: by a platform administrator only, once.
  Refused(acme_admin_, Revoke(label_key->ToString(), "mine now"),
          absl::StatusCode::kPermissionDenied, "may not revoke label keys");
  Ok(admin_, Revoke(label_key->ToString(), "retired"));
  Refused(admin_, Revoke(label_key->ToString(), "again"), absl::StatusCode::kFailedPrecondition,
          "label key " + label_key->ToString() + " is already revoked");
  label_state = FindLabelKey(*ledger_->snapshot(), *label_key);
  ASSERT_TRUE(label_state.ok()) << label_state.status();
  ASSERT_TRUE(label_state->has_value());
  ASSERT_TRUE((*label_state)->revoked_on.has_value());
  // Recorded on the China day of its entry (today, give or take midnight).
  EXPECT_GE(*(*label_state)->revoked_on, api::TodayInChina() - 1);
  EXPECT_LE(*(*label_state)->revoked_on, api::TodayInChina());
  ExpectCheckPasses();
}

// From rules epoch 13 a regulator lifts only what a regulator of its own
// department listed within its jurisdiction; a platform administrator's
// listing only a platform administrator lifts; a listing stands until
// lifted.
TEST_F(RegistryRulesTest, ARegulatorLiftsOnlyWhatItsDepartmentListedWithinItsJurisdiction) {
  const crypto::SigningKey em_province = TestKey(40), em_city = TestKey(41),
                           transport_province = TestKey(42);
  const auto add_regulator = [&](v1::Department department, const std::string& region,
                                 const crypto::SigningKey& key) {
    v1::RegistryRequest r = Request();
    *r.mutable_add_actor() = testing::ExampleRegulator(department, region, key.verifying_key());
    Ok(admin_, r);
  };
  add_regulator(v1::EMERGENCY_MANAGEMENT, "35", em_province);
  add_regulator(v1::EMERGENCY_MANAGEMENT, "3501", em_city);
  add_regulator(v1::TRANSPORT, "35", transport_province);
  ASSERT_FALSE(HasFatalFailure());

  // The platform administrator's listing: a regulator over the enterprise
  // does not lift it.
  Ok(admin_, Blacklist(kAcme, true, "false declarations"));
  Refused(em_province, Blacklist(kAcme, false, "corrected"), absl::StatusCode::kPermissionDenied,
          "blacklisted by a platform administrator");
  // Listed once: not again until lifted.
  Refused(em_city, Blacklist(kAcme, true, "again"), absl::StatusCode::kFailedPrecondition,
          "is already blacklisted");
  Ok(admin_, Blacklist(kAcme, false, "corrected"));

  // A city's 应急管理 listing: not lifted by 交通运输 of the province, but
  // by the province's 应急管理 above the city.
  Ok(em_city, Blacklist(kAcme, true, "storage without licence"));
  Refused(transport_province, Blacklist(kAcme, false, "x"), absl::StatusCode::kPermissionDenied,
          "only that department or a platform administrator lifts it");
  // Who may lift is fixed when it is listed: the city's regulator made
  // national since does not put its listing above the province.
  {
    v1::RegistryRequest reassign = Request();
    v1::RegulatorAssignment* a = reassign.mutable_assign_regulator();
    a->set_key_id(em_city.key_id().ToString());
    a->set_department(v1::EMERGENCY_MANAGEMENT);
    a->mutable_jurisdiction()->set_national(true);
    Ok(admin_, reassign);
  }
  Ok(em_province, Blacklist(kAcme, false, "licensed"));
  {
    v1::RegistryRequest back = Request();
    v1::RegulatorAssignment* a = back.mutable_assign_regulator();
    a->set_key_id(em_city.key_id().ToString());
    a->set_department(v1::EMERGENCY_MANAGEMENT);
    a->mutable_jurisdiction()->set_region_prefix("3501");
    Ok(admin_, back);
  }

  // A province's listing: not lifted by a city below it; by itself, yes.
  Ok(em_province, Blacklist(kAcme, true, "storage without licence"));
  Refused(em_city, Blacklist(kAcme, false, "x"), absl::StatusCode::kPermissionDenied,
          "is not within this one's");
  Ok(em_province, Blacklist(kAcme, false, "licensed"));
  ExpectCheckPasses();

  // Entries of epoch 12 keep their rules: there any regulator over the
  // enterprise lifted, and a listing could be made again.
  TestLedgerOptions epoch12;
  epoch12.rules_epoch = 12;
  ledger_->Reopen(epoch12);
  ASSERT_FALSE(HasFatalFailure());
  Ok(em_city, Blacklist(kAcme, true, "storage without licence"));
  Ok(em_city, Blacklist(kAcme, true, "and again"));
  Ok(transport_province, Blacklist(kAcme, false, "lifted under the old rules"));
  ExpectCheckPasses();
}

// A platform administrator may require every request to name the
// deployment (rules epoch 17): from its entry on, one that names none is
// refused beside its signature check and, verified before the policy came,
// again by the rules; a request naming it is taken; the policy can be lifted;
// `check` rebuilds it; an entry of epoch 16 may not set it.
TEST_F(RegistryRulesTest, APolicyRequiresEveryRequestToNameTheDeployment) {
  absl::StatusOr<state::DeploymentRecord> before = ReadDeployment(*ledger_->snapshot());
  ASSERT_TRUE(before.ok()) << before.status();
  const std::string here = before->deployment();
  EXPECT_FALSE(before->require_named_requests());
  const auto policy = [&](bool required) {
    v1::RegistryRequest r = Request();
    r.mutable_set_deployment_policy()->set_require_named_requests(required);
    return r;
  };
  const auto named = [&](v1::RegistryRequest r) {
    r.set_deployment(here);
    return r;
  };
  Refused(acme_admin_, named(policy(true)), absl::StatusCode::kPermissionDenied,
          "may not set the deployment's policy: platform administrators only");
  Refused(regulator_, named(policy(true)), absl::StatusCode::kPermissionDenied,
          "may not set the deployment's policy");
  // A policy request names the deployment: never one replayed from another.
  Refused(admin_, policy(true), absl::StatusCode::kInvalidArgument,
          "deployment: a set_deployment_policy request must name the deployment it is for");
  // Recorded before the policy, unnamed: its retry after it gets its receipt.
  const v1::SignedEnvelope before_policy =
      Signed(admin_, Enterprise(testing::ExampleUscc("320400")));
  absl::StatusOr<journal::Receipt> first = Submit(before_policy);
  ASSERT_TRUE(first.ok()) << first.status();

  std::shared_ptr<const storage::Snapshot> without_policy = ledger_->snapshot();
  const uint64_t policy_index = without_policy->size();
  Ok(admin_, named(policy(true)));
  absl::StatusOr<state::DeploymentRecord> strict = ReadDeployment(*ledger_->snapshot());
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_TRUE(strict->require_named_requests());
  EXPECT_EQ(strict->policy_log_index(), policy_index);

  const std::string refusal = absl::StrCat(
      "deployment: this deployment takes only requests that name it (a platform administrator's "
      "policy, log index ",
      policy_index, "): set field 30 to \"", here, "\"");
  Refused(admin_, Enterprise(testing::ExampleUscc("320100")), absl::StatusCode::kUnauthenticated,
          refusal);
  Ok(admin_, named(Enterprise(testing::ExampleUscc("320100"))));
  absl::StatusOr<journal::Receipt> retry = Submit(before_policy);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  EXPECT_EQ(retry->index, first->index);
  {
    v1::RegistryRequest other = Enterprise(testing::ExampleUscc("320200"));
    other.set_deployment(here + "-staging");
    Refused(admin_, other, absl::StatusCode::kUnauthenticated, "signed for deployment");
  }

  // Verified at a snapshot before the policy, ordered after it: the rules
  // refuse it. (In a block: the verified batch holds that snapshot, which
  // must not outlive the store the reopen below closes.)
  {
    const v1::SignedEnvelope late = Signed(admin_, Enterprise(testing::ExampleUscc("320300")));
    const v1::SignedEnvelope* one[] = {&late};
    const VerifiedBatch verified = VerifySigned(without_policy, one, kRegistryContext);
    ASSERT_TRUE(verified.signers[0].ok()) << verified.signers[0].status();
    const uint64_t size = ledger_->snapshot()->size();
    const auto receipts = SubmitVerified(ledger_->client(), verified, kRegistryContext);
    ASSERT_EQ(receipts.size(), 1u);
    EXPECT_EQ(receipts[0].status().code(), absl::StatusCode::kUnauthenticated)
        << receipts[0].status();
    EXPECT_NE(receipts[0].status().message().find(refusal), std::string::npos)
        << receipts[0].status();
    EXPECT_EQ(ledger_->snapshot()->size(), size);
  }

  // Lifted (by a request that names the deployment, as it must now).
  Refused(admin_, policy(false), absl::StatusCode::kUnauthenticated, refusal);
  Ok(admin_, named(policy(false)));
  Ok(admin_, Enterprise(testing::ExampleUscc("320300")));
  ExpectCheckPasses();

  // Under epoch 16 the field is one its rules do not read: the request
  // makes no change.
  TestLedgerOptions epoch16;
  epoch16.rules_epoch = 16;
  without_policy.reset();  // a snapshot must not outlive its store
  ledger_->Reopen(epoch16);
  ASSERT_FALSE(HasFatalFailure());
  Refused(admin_, named(policy(true)), absl::StatusCode::kInvalidArgument,
          "request.change: no change given");
}

// Before rules epoch 17 a server took a field it did not know and ignored
// it. A registration of then that carried field 22 (set_deployment_policy
// now) is still the registration it was, when its rules run and when the
// state is rebuilt; from epoch 17 a field this server does not know is
// refused, by the rules, after a retry of a recorded request is answered,
// and never recorded.
TEST_F(RegistryRulesTest, FieldsAreReadAsTheEpochOfTheirEntryReadThem) {
  v1::DeploymentPolicy strict;
  strict.set_require_named_requests(true);
  const auto with_field_22 = [&](const std::string& uscc) {
    v1::RegistryRequest r = Enterprise(uscc);
    r.GetReflection()->MutableUnknownFields(&r)->AddLengthDelimited(22, strict.SerializeAsString());
    return r;
  };
  TestLedgerOptions epoch16;
  epoch16.rules_epoch = 16;
  ledger_->Reopen(epoch16);
  ASSERT_FALSE(HasFatalFailure());
  const v1::SignedEnvelope old = Signed(admin_, with_field_22(testing::ExampleUscc("340100")));
  absl::StatusOr<journal::Receipt> taken = Submit(old);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_TRUE(FindEnterpriseNow(testing::ExampleUscc("340100")).has_value());
  absl::StatusOr<state::DeploymentRecord> deployment = ReadDeployment(*ledger_->snapshot());
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  EXPECT_FALSE(deployment->require_named_requests());
  // Field 22 whose bytes are no DeploymentPolicy at all: as unread.
  v1::RegistryRequest garbled = Enterprise(testing::ExampleUscc("340300"));
  garbled.GetReflection()->MutableUnknownFields(&garbled)->AddLengthDelimited(22, "abc");
  const v1::SignedEnvelope old_garbled = Signed(admin_, garbled);
  ASSERT_TRUE(Submit(old_garbled).ok());
  EXPECT_TRUE(FindEnterpriseNow(testing::ExampleUscc("340300")).has_value());
  ExpectCheckPasses();

  // Epoch 17: a field this server does not know is refused, not recorded;
  // the old request's retry gets its receipt.
  TestLedgerOptions current;
  current.rules_epoch = journal::kCurrentRulesEpoch;
  ledger_->Reopen(current);
  ASSERT_FALSE(HasFatalFailure());
  v1::RegistryRequest newer = Enterprise(testing::ExampleUscc("340200"));
  newer.mutable_register_enterprise()
      ->GetReflection()
      ->MutableUnknownFields(newer.mutable_register_enterprise())
      ->AddVarint(99, 1);
  Refused(admin_, newer, absl::StatusCode::kInvalidArgument,
          "request.register_enterprise: field number 99 (sent as a varint) is not a field of "
          "chemledger.v1.Enterprise in this server's schema");
  absl::StatusOr<journal::Receipt> retry = Submit(old);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  absl::StatusOr<journal::Receipt> garbled_retry = Submit(old_garbled);
  ASSERT_TRUE(garbled_retry.ok()) << garbled_retry.status();
  EXPECT_TRUE(garbled_retry->replayed);
  // A request whose id cannot be read because of a field in the wrong wire
  // type (request_id, a string, sent as a varint): the same refusal.
  v1::RegistryRequest no_id = Enterprise(testing::ExampleUscc("340400"));
  no_id.clear_request_id();
  const std::string wire = no_id.SerializeAsString() + std::string("\x08\x05", 2);
  Refused(*envelope::Sign(kRegistryContext, wire, admin_), absl::StatusCode::kInvalidArgument,
          "request.request_id: sent as a varint, which this server's parser does not read as this "
          "field");
  ExpectCheckPasses();
}

// Before rules epoch 18 a request that sent a field holding one value twice
// was taken as the parser reads it (a message sent twice, merged; the last
// value of a scalar), and is still that request when the state is rebuilt.
// From epoch 18 it is refused, as are two members of one oneof, and the old
// request's retry gets its receipt.
TEST_F(RegistryRulesTest, AFieldSentTwiceIsTakenAsParsedBeforeEpoch18AndRefusedFrom) {
  const std::string uscc = testing::ExampleUscc("340500");
  // register_enterprise sent twice: the second's name is the one parsed.
  const auto twice = [&](const std::string& id) {
    v1::RegistryRequest first = Enterprise(uscc);
    first.set_request_id(id);
    v1::RegistryRequest second;
    second.mutable_register_enterprise()->set_name("第二个名称");
    return first.SerializeAsString() + second.SerializeAsString();
  };
  TestLedgerOptions epoch17;
  epoch17.rules_epoch = 17;
  ledger_->Reopen(epoch17);
  ASSERT_FALSE(HasFatalFailure());
  const v1::SignedEnvelope old = *envelope::Sign(kRegistryContext, twice("twice-1"), admin_);
  absl::StatusOr<journal::Receipt> taken = Submit(old);
  ASSERT_TRUE(taken.ok()) << taken.status();
  std::optional<EnterpriseRecord> registered = FindEnterpriseNow(uscc);
  ASSERT_TRUE(registered.has_value());
  EXPECT_EQ(registered->enterprise.name(), "第二个名称");
  ExpectCheckPasses();

  TestLedgerOptions current;
  current.rules_epoch = journal::kCurrentRulesEpoch;
  ledger_->Reopen(current);
  ASSERT_FALSE(HasFatalFailure());
  Refused(*envelope::Sign(kRegistryContext, twice("twice-2"), admin_),
          absl::StatusCode::kInvalidArgument,
          "request.register_enterprise: sent twice; it holds one value (a message)");
  // A scalar inside a message sent twice (the message's bytes written as
  // they are, as field 10).
  v1::Enterprise again;
  again.set_name("又一个");
  v1::RegistryRequest name_twice;
  name_twice.set_request_id("twice-3");
  name_twice.GetReflection()
      ->MutableUnknownFields(&name_twice)
      ->AddLengthDelimited(
          v1::RegistryRequest::kRegisterEnterpriseFieldNumber,
          testing::ExampleProducer(testing::ExampleUscc("340600")).SerializeAsString() +
              again.SerializeAsString());
  Refused(Signed(admin_, name_twice), absl::StatusCode::kInvalidArgument,
          "request.register_enterprise.name: sent twice; it holds one value (a string)");
  // Two members of the oneof `change`.
  v1::RegistryRequest two = Enterprise(testing::ExampleUscc("340700"));
  two.set_request_id("twice-4");
  v1::RegistryRequest other_member = Blacklist(kOther, true, "x");
  other_member.clear_request_id();
  Refused(*envelope::Sign(kRegistryContext,
                          two.SerializeAsString() + other_member.SerializeAsString(), admin_),
          absl::StatusCode::kInvalidArgument,
          "request.blacklist: sent with register_enterprise, another member of oneof change");
  absl::StatusOr<journal::Receipt> retry = Submit(old);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed);
  ExpectCheckPasses();
}

TEST_F(RegistryRulesTest, RevokedKeysAndBlacklistedEnterprisesWriteNothing) {
  Ok(admin_, Revoke(acme_admin_.key_id().ToString(), "laptop lost"));
  Refused(acme_admin_, Product(Methanol(kAcme, "ME05")), absl::StatusCode::kPermissionDenied,
          "was revoked: laptop lost");

  const v1::RegistryRequest blacklist = Blacklist(kOther, true, "unlicensed storage");
  // Only platform admins and regulators may blacklist.
  Refused(other_admin_, blacklist, absl::StatusCode::kPermissionDenied,
          "may not change the blacklist");
  Refused(regulator_, Blacklist("91440300708461136T", true, "x"), absl::StatusCode::kNotFound,
          "blacklist.enterprise_uscc: enterprise '91440300708461136T' is not registered");
  Refused(regulator_, Blacklist(kOther, true, ""), absl::StatusCode::kInvalidArgument,
          "blacklist.reason: is required");
  Ok(regulator_, blacklist);
  std::optional<EnterpriseRecord> other = FindEnterpriseNow(kOther);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->blacklist_reason, "unlicensed storage");
  // Its own actors can write nothing; nobody registers its products or actors.
  Refused(other_admin_, Product(Methanol(kOther, "ME06")), absl::StatusCode::kPermissionDenied,
          "is blacklisted");
  Refused(admin_, Product(Methanol(kOther, "ME06")), absl::StatusCode::kPermissionDenied,
          "is blacklisted");
  Refused(admin_, AddActor("other line 2", v1::ENTERPRISE_OPERATOR, kOther, TestKey(13)),
          absl::StatusCode::kPermissionDenied,
          "actor.enterprise_uscc: enterprise 91110105771583283D is blacklisted");

  // And all of it reads the same after a restart, and rebuilds the same.
  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  other = FindEnterpriseNow(kOther);
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->blacklist_reason, "unlicensed storage");
  std::optional<state::ActorRecord> acme_admin = FindActorNow(acme_admin_.key_id());
  ASSERT_TRUE(acme_admin.has_value());
  EXPECT_TRUE(acme_admin->revoked());
  EXPECT_EQ(acme_admin->revoked_reason(), "laptop lost");
  absl::StatusOr<v1::Actor> signer = ActiveSigner(*ledger_->snapshot(), acme_admin_.key_id());
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kPermissionDenied) << signer.status();
  signer = ActiveSigner(*ledger_->snapshot(), other_admin_.key_id());
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kPermissionDenied) << signer.status();
  ExpectCheckPasses();

  // Lifting the blacklist lets the enterprise write again.
  Ok(regulator_, Blacklist(kOther, false, "storage licensed"));
  other = FindEnterpriseNow(kOther);
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->blacklist_reason.has_value());
  Ok(other_admin_, Product(Methanol(kOther, "ME06")));
  ExpectCheckPasses();
}

TEST_F(RegistryRulesTest, GenesisOnlyOnceAndOnlyFirst) {
  // A second genesis entry is refused.
  absl::StatusOr<v1::SignedEnvelope> again =
      MakeGenesis("again", "CL.EXAMPLE.CN", "x", stranger_);
  ASSERT_TRUE(again.ok()) << again.status();
  const uint64_t size = ledger_->snapshot()->size();
  std::vector<journal::Request> requests(1);
  requests[0].envelope = *again;
  absl::StatusOr<journal::Receipt> receipt = std::move(ledger_->client().Submit(requests)[0]);
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.status().code(), absl::StatusCode::kFailedPrecondition) << receipt.status();
  EXPECT_NE(receipt.status().message().find("one genesis entry, at log index 0"),
            std::string::npos)
      << receipt.status();
  EXPECT_EQ(ledger_->snapshot()->size(), size);
  EXPECT_FALSE(FindActorNow(stranger_.key_id()).has_value());
  ExpectCheckPasses();

  // MakeGenesis checks what it is given.
  EXPECT_EQ(MakeGenesis("", "CL.EXAMPLE.CN", "root", admin_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeGenesis("test", "CL.EXAMPLE.CN", "", admin_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeGenesis("test", "not a host", "root", admin_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeGenesis("test", std::string(40, 'A') + ".CN", "root", admin_).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A fresh store: nothing is read before the genesis entry, and nothing but
  // the genesis entry may be entry 0.
  std::shared_ptr<const Catalogue> catalogue = MethanolCatalogue("1230");
  server::StateMachines machines(catalogue.get());
  {
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenLevelDbStore(chemledger::testing::FreshTempDir("registry_empty"));
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<std::unique_ptr<journal::Journal>> journal =
        journal::Journal::Open(store->get(), machines.all());
    ASSERT_TRUE(journal.ok()) << journal.status();
    EXPECT_EQ(ReadDeployment(*(*journal)->Snapshot()).status().code(),
              absl::StatusCode::kNotFound);
    // A registry request first (given to the journal directly: no signer
    // could be verified without a genesis entry).
    receipt = (*journal)->Submit(journal::Request{Signed(admin_, Enterprise(kAcme)), ""});
    ASSERT_FALSE(receipt.ok());
    EXPECT_EQ(receipt.status().code(), absl::StatusCode::kFailedPrecondition) << receipt.status();
    EXPECT_NE(receipt.status().message().find("log entry 0 must be the genesis entry"),
              std::string::npos)
        << receipt.status();
    // A genesis entry not signed by the administrator it names.
    absl::StatusOr<v1::SignedEnvelope> genesis =
        MakeGenesis("test", "CL.EXAMPLE.CN", "root", admin_);
    ASSERT_TRUE(genesis.ok()) << genesis.status();
    v1::SignedEnvelope forged = *envelope::Sign(kGenesisContext, genesis->payload(), stranger_);
    receipt = (*journal)->Submit(journal::Request{forged, ""});
    ASSERT_FALSE(receipt.ok());
    EXPECT_EQ(receipt.status().code(), absl::StatusCode::kUnauthenticated) << receipt.status();
    EXPECT_EQ((*journal)->Snapshot()->size(), 0u);
    // The real one.
    receipt = (*journal)->Submit(journal::Request{*genesis, ""});
    ASSERT_TRUE(receipt.ok()) << receipt.status();
    EXPECT_EQ(receipt->index, 0u);
    absl::StatusOr<state::DeploymentRecord> deployment = ReadDeployment(*(*journal)->Snapshot());
    ASSERT_TRUE(deployment.ok()) << deployment.status();
    EXPECT_EQ(deployment->resolver(), "CL.EXAMPLE.CN");
  }

  // A log written without the journal whose entry 0 is not a genesis entry
  // does not open.
  for (bool a_log_entry : {false, true}) {
    SCOPED_TRACE(a_log_entry ? "a registry entry" : "junk");
    absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::OpenLevelDbStore(
        chemledger::testing::FreshTempDir(absl::StrCat("registry_not_genesis_", a_log_entry)));
    ASSERT_TRUE(store.ok()) << store.status();
    std::string bytes = "not a genesis entry";
    if (a_log_entry) {
      v1::LogEntry entry;
      *entry.mutable_envelope() = Signed(admin_, Enterprise(kAcme));
      entry.set_rules_epoch(journal::kCurrentRulesEpoch);
      bytes = entry.SerializeAsString();
    }
    ASSERT_TRUE((*store)->Append({bytes}).ok());
    absl::StatusOr<std::unique_ptr<journal::Journal>> journal =
        journal::Journal::Open(store->get(), machines.all());
    ASSERT_FALSE(journal.ok());
    EXPECT_EQ(journal.status().code(), absl::StatusCode::kDataLoss) << journal.status();
    if (a_log_entry) {
      EXPECT_NE(journal.status().message().find("log entry 0 must be the genesis entry"),
                std::string::npos)
          << journal.status();
    }
  }
}

// What a product registration was checked against is recorded in its entry,
// so a catalogue that changes later neither breaks the ledger's opening nor
// its check, while new registrations follow the new row.
TEST_F(RegistryRulesTest, ProductsKeepTheCatalogueRowTheyWereCheckedAgainst) {
  TestLedgerOptions before;
  before.catalogue = MethanolCatalogue("1230");
  TestLedgerOptions after;
  after.catalogue = MethanolCatalogue("1992");  // the row for CAS 67-56-1 changed
  ledger_->Reopen(before);
  ASSERT_FALSE(HasFatalFailure());

  absl::StatusOr<journal::Receipt> me01 =
      ledger_->Registry(acme_admin_, Product(Methanol(kAcme, "ME01")));
  ASSERT_TRUE(me01.ok()) << me01.status();
  v1::RegistryAssignment assignment = LoggedAssignment(me01->index);
  ASSERT_TRUE(assignment.has_checked_against());
  EXPECT_EQ(assignment.checked_against().cas(), "67-56-1");
  EXPECT_EQ(assignment.checked_against().un_number(), "1230");
  EXPECT_EQ(assignment.checked_against().catalogue_number(), 1022);
  EXPECT_EQ(assignment.checked_against().control_flags(),
            static_cast<uint32_t>(kKeySupervised | kHighHazard));

  ledger_->Reopen(after);
  ASSERT_FALSE(HasFatalFailure()) << "the ledger does not open after the catalogue changed";
  std::optional<v1::Product> product = FindProductNow(kAcme, "ME01");
  ASSERT_TRUE(product.has_value());
  EXPECT_EQ(product->un_number(), "1230");
  ExpectCheckPasses();

  // New registrations are checked against the new row.
  Refused(acme_admin_, Product(Methanol(kAcme, "ME02")), absl::StatusCode::kInvalidArgument,
          "product.un_number: 1230 does not match CAS 67-56-1: the catalogue says UN 1992");
  v1::Product renumbered = Methanol(kAcme, "ME03");
  renumbered.set_un_number("1992");
  absl::StatusOr<journal::Receipt> me03 = ledger_->Registry(acme_admin_, Product(renumbered));
  ASSERT_TRUE(me03.ok()) << me03.status();
  EXPECT_EQ(LoggedAssignment(me03->index).checked_against().un_number(), "1992");
  ExpectCheckPasses();

  // Each entry is rebuilt against its own row, whatever the catalogue: back
  // on the old one, the state still rebuilds and ME03 still reads.
  ledger_->Reopen(before);
  ASSERT_FALSE(HasFatalFailure());
  product = FindProductNow(kAcme, "ME03");
  ASSERT_TRUE(product.has_value());
  EXPECT_EQ(product->un_number(), "1992");
  ExpectCheckPasses();

  // The recorded row is really what a rebuilt entry is checked against: a
  // registration of UN 1230 logged as checked against the UN 1992 row is
  // refused when its state is built, though today's catalogue would take it.
  absl::StatusOr<std::string> bytes = ledger_->snapshot()->Entry(me01->index);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  v1::LogEntry tampered;
  ASSERT_TRUE(tampered.ParseFromString(*bytes));
  *tampered.mutable_envelope() = Signed(acme_admin_, Product(Methanol(kAcme, "ME04")));
  v1::RegistryAssignment wrong_row = LoggedAssignment(me01->index);
  wrong_row.mutable_checked_against()->set_un_number("1992");
  tampered.set_assignment(wrong_row.SerializeAsString());
  ledger_->Close();
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenLevelDbStore(ledger_->store_dir());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<uint64_t> index = (*store)->Append({tampered.SerializeAsString()});
  ASSERT_TRUE(index.ok()) << index.status();
  server::StateMachines machines(before.catalogue.get());
  absl::StatusOr<std::unique_ptr<journal::Journal>> journal =
      journal::Journal::Open(store->get(), machines.all());
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.status().code(), absl::StatusCode::kDataLoss) << journal.status();
  EXPECT_NE(journal.status().message().find(absl::StrCat(
                "entry ", *index, " (", kRegistryContext.payload_type(),
                ") does not apply under the rules of its time: registry: product.un_number: "
                "1230 does not match CAS 67-56-1: the catalogue says UN 1992")),
            std::string::npos)
      << journal.status();
}

// A catalogue CSV of these rows (docs/reference-data.md), the header first.
std::string CatalogueCsvOf(const std::vector<std::string>& rows) {
  std::string csv = absl::StrCat(kCatalogueCsvHeader, "\n");
  for (const std::string& row : rows) absl::StrAppend(&csv, row, "\n");
  return csv;
}

v1::ReferenceTableImport CatalogueImport(const std::string& version, const std::string& csv) {
  v1::ReferenceTableImport import;
  import.set_table(v1::CATALOGUE);
  import.set_version(version);
  import.mutable_source()->set_title("测试目录 (a table of this test's own)");
  import.mutable_source()->set_issuer("ChemLedger tests");
  *import.mutable_source()->mutable_issued_on() = api::ToProtoDate(absl::CivilDay(2026, 11, 1));
  import.mutable_source()->set_document_number("TEST-1");
  import.set_content(csv);
  const crypto::Sha256Digest digest = crypto::Sha256(csv);
  import.set_content_sha256(
      std::string(reinterpret_cast<const char*>(digest.bytes().data()), digest.kSize));
  return import;
}

// Imported catalogues are registry entries: a platform administrator's
// only, whole or not at all; from its entry on, a version governs product
// registrations (rows without UN numbers or classes check the CAS number,
// catalogue number and flags), the entries before it keep theirs, and the
// state rebuilt from the log reads each entry under the version of its time.
TEST_F(RegistryRulesTest, ReferenceTablesGovernTheEntriesAfterThem) {
  const auto import_request = [&](const v1::ReferenceTableImport& import) {
    v1::RegistryRequest r = Request();
    *r.mutable_import_reference_table() = import;
    return r;
  };
  // Before any import the compiled-in catalogue stands in (methanol: 重点监管, 高危).
  v1::Product me01 = Methanol(kAcme, "ME01");
  Ok(acme_admin_, Product(me01));
  v1::Product lax = Methanol(kAcme, "ME02");
  lax.clear_control_flags();
  lax.add_control_flags("重点监管");
  Refused(acme_admin_, Product(lax), absl::StatusCode::kInvalidArgument,
          "product.control_flags: must include 重点监管,高危");

  const std::string v1_csv = CatalogueCsvOf({
      "1022,甲醇,Methanol,67-56-1,,,,重点监管",
      "1,测试氰化物,Test cyanide,143-33-9,,,,剧毒",
      "2,测试双列,Twice listed A,64-17-5,,,,",
      "3,测试双列,Twice listed B,64-17-5,,,,易制毒",
  });
  // Who may import, and what is refused whole.
  Refused(acme_admin_, import_request(CatalogueImport("t1", v1_csv)),
          absl::StatusCode::kPermissionDenied, "may not import reference tables");
  Refused(regulator_, import_request(CatalogueImport("t1", v1_csv)),
          absl::StatusCode::kPermissionDenied, "platform administrators only");
  v1::ReferenceTableImport wrong_hash = CatalogueImport("t1", v1_csv);
  wrong_hash.set_content(absl::StrCat(v1_csv, "4,多一行,One more row,,,,,\n"));
  Refused(admin_, import_request(wrong_hash), absl::StatusCode::kInvalidArgument,
          "import_reference_table.content_sha256: is not the SHA-256 of content");
  Refused(admin_,
          import_request(CatalogueImport(
              "t1", CatalogueCsvOf({"1022,甲醇,Methanol,67-56-1,,,,重点监管",
                                    "5,坏行,Bad row,67-56-2,,,,", "6,,No name,,,,,剧毒X"}))),
          absl::StatusCode::kInvalidArgument,
          "import_reference_table.content: 3 problems, the table is refused whole: line 3, "
          "field cas:");
  v1::ReferenceTableImport no_title = CatalogueImport("t1", v1_csv);
  no_title.mutable_source()->clear_title();
  Refused(admin_, import_request(no_title), absl::StatusCode::kInvalidArgument,
          "import_reference_table.source.title: is required");
  Refused(admin_, import_request(CatalogueImport("t 1", v1_csv)),
          absl::StatusCode::kInvalidArgument, "import_reference_table.version: 't 1' must be");
  absl::StatusOr<std::vector<v1::ReferenceTableVersion>> versions =
      ListReferenceTableVersions(*ledger_->snapshot(), v1::REFERENCE_TABLE_UNSPECIFIED);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_TRUE(versions->empty()) << "a refused import left a version";

  absl::StatusOr<journal::Receipt> t1 =
      ledger_->Registry(admin_, import_request(CatalogueImport("t1", v1_csv)));
  ASSERT_TRUE(t1.ok()) << t1.status();
  Refused(admin_, import_request(CatalogueImport("t1", v1_csv)), absl::StatusCode::kAlreadyExists,
          "import_reference_table.version: catalogue t1 was "
          "imported before");

  // Version t1 governs: methanol needs 重点监管 only now, and has no UN
  // number to compare; the cyanide needs 剧毒; a CAS number listed twice
  // needs the catalogue number of one of its rows.
  absl::StatusOr<journal::Receipt> me02 = ledger_->Registry(acme_admin_, Product(lax));
  ASSERT_TRUE(me02.ok()) << me02.status();
  v1::RegistryAssignment assignment = LoggedAssignment(me02->index);
  EXPECT_EQ(assignment.catalogue_version(), "t1");
  EXPECT_EQ(assignment.checked_against().catalogue_number(), 1022);
  EXPECT_EQ(assignment.checked_against().un_number(), "");
  v1::Product cyanide = Methanol(kAcme, "CN01");
  cyanide.set_name_zh("测试氰化物");
  cyanide.set_cas("143-33-9");
  cyanide.set_un_number("1689");
  cyanide.set_hazard_class("6.1");
  cyanide.set_packing_group("I");
  cyanide.set_catalogue_number(1);
  Refused(acme_admin_, Product(cyanide), absl::StatusCode::kInvalidArgument,
          "product.control_flags: must include 剧毒 for CAS 143-33-9");
  cyanide.add_control_flags("剧毒");
  Ok(acme_admin_, Product(cyanide));
  v1::Product twice = Methanol(kAcme, "ET01");
  twice.set_cas("64-17-5");
  twice.clear_control_flags();
  twice.set_catalogue_number(2);
  absl::StatusOr<journal::Receipt> et01 = ledger_->Registry(acme_admin_, Product(twice));
  ASSERT_TRUE(et01.ok()) << et01.status();
  EXPECT_EQ(LoggedAssignment(et01->index).checked_against().name_en(), "Twice listed A");
  twice.set_product_number("ET02");
  twice.set_catalogue_number(3);
  Refused(acme_admin_, Product(twice), absl::StatusCode::kInvalidArgument,
          "product.control_flags: must include 易制毒 for CAS 64-17-5");
  twice.set_catalogue_number(7);
  Refused(acme_admin_, Product(twice), absl::StatusCode::kInvalidArgument,
          "product.catalogue_number: 7 does not match CAS 64-17-5: catalogue t1 lists it as "
          "entry 2 or entry 3");

  // Version t2 adds 剧毒 to methanol (a test's table, not the 目录's): from
  // its entry on, methanol needs it; ME01 and ME02 stay as registered.
  absl::StatusOr<journal::Receipt> t2 = ledger_->Registry(
      admin_, import_request(CatalogueImport(
                  "t2", CatalogueCsvOf({"1022,甲醇,Methanol,67-56-1,1230,3,II,剧毒;重点监管"}))));
  ASSERT_TRUE(t2.ok()) << t2.status();
  v1::Product me03 = Methanol(kAcme, "ME03");
  Refused(acme_admin_, Product(me03), absl::StatusCode::kInvalidArgument,
          "product.control_flags: must include 剧毒,重点监管 for CAS 67-56-1");
  me03.add_control_flags("剧毒");
  me03.set_un_number("1992");
  Refused(acme_admin_, Product(me03), absl::StatusCode::kInvalidArgument,
          "product.un_number: 1992 does not match CAS 67-56-1: the catalogue says UN 1230");
  me03.set_un_number("1230");
  Ok(acme_admin_, Product(me03));
  // The cyanide is in no version in force now: its declared flags stand.
  v1::Product cyanide2 = cyanide;
  cyanide2.set_product_number("CN02");
  cyanide2.clear_control_flags();
  absl::StatusOr<journal::Receipt> cn02 = ledger_->Registry(acme_admin_, Product(cyanide2));
  ASSERT_TRUE(cn02.ok()) << cn02.status();
  EXPECT_EQ(LoggedAssignment(cn02->index).catalogue_version(), "t2");
  EXPECT_FALSE(LoggedAssignment(cn02->index).has_checked_against());

  versions = ListReferenceTableVersions(*ledger_->snapshot(), v1::CATALOGUE);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version(), "t1");
  EXPECT_FALSE((*versions)[0].in_force());
  EXPECT_EQ((*versions)[0].rows(), 4u);
  EXPECT_EQ((*versions)[0].log_index(), t1->index);
  EXPECT_EQ((*versions)[0].source().document_number(), "TEST-1");
  EXPECT_EQ((*versions)[1].version(), "t2");
  EXPECT_TRUE((*versions)[1].in_force());

  // Rebuilt from the log, each registration meets the version of its time
  // (ME02 would fail under t2, CN01 under none); the same after a reopen.
  ExpectCheckPasses();
  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  ExpectCheckPasses();
  absl::StatusOr<std::vector<v1::CatalogueRow>> rows =
      FindCatalogueRows(*ledger_->snapshot(), "t1", "64-17-5");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1].control_flags(), static_cast<uint32_t>(kDrugPrecursor));
}

// Once a catalogue is imported, a product in no version in force is
// registered with provisional flags; a regulator of 应急管理 overseeing the
// enterprise confirms or corrects them (never below what the catalogue in
// force gives); a later version that lists the CAS number adds its flags to
// products registered before it and ends their provisional standing; every
// change is recorded, and the state rebuilds from the log.
TEST_F(RegistryRulesTest, ProductsOutsideTheCatalogueWaitForARegulatorAndFollowNewVersions) {
  const auto import_request = [&](const std::string& version, const std::string& csv) {
    v1::RegistryRequest r = Request();
    *r.mutable_import_reference_table() = CatalogueImport(version, csv);
    return r;
  };
  const auto decision = [&](const std::string& number, std::vector<std::string> flags,
                            const std::string& reason) {
    v1::RegistryRequest r = Request();
    v1::ProductFlagsDecision* d = r.mutable_decide_product_flags();
    d->set_enterprise_uscc(kAcme);
    d->set_product_number(number);
    for (const std::string& f : flags) d->add_control_flags(f);
    d->set_reason(reason);
    return r;
  };
  // Before any import no one decides flags: the compiled-in catalogue's stand.
  Ok(acme_admin_, Product(Methanol(kAcme, "XZ01")));
  Refused(regulator_, decision("XZ01", {"剧毒", "重点监管", "高危"}, "too early"),
          absl::StatusCode::kFailedPrecondition, "no catalogue has been imported");
  // Registered before any import: not provisional (the compiled-in
  // catalogue stood in), though this CAS is in no table.
  v1::Product early = Methanol(kAcme, "XA01");
  early.set_cas("7732-18-5");
  early.clear_control_flags();
  Ok(acme_admin_, Product(early));
  ASSERT_TRUE(FindProductNow(kAcme, "XA01").has_value());
  EXPECT_FALSE(FindProductNow(kAcme, "XA01")->flags_provisional());

  Ok(admin_, import_request("t1", CatalogueCsvOf({"1022,甲醇,Methanol,67-56-1,,,,重点监管"})));
  // A registrant may not claim the standing itself.
  v1::Product claimed = Methanol(kAcme, "XB01");
  claimed.set_flags_provisional(true);
  Refused(acme_admin_, Product(claimed), absl::StatusCode::kInvalidArgument,
          "product.flags_provisional: is the server's to set");
  // In no version in force: registered, its declared flags provisional.
  v1::Product outside = Methanol(kAcme, "XB01");
  outside.set_cas("7732-18-5");
  outside.clear_control_flags();
  absl::StatusOr<journal::Receipt> xb01 = ledger_->Registry(acme_admin_, Product(outside));
  ASSERT_TRUE(xb01.ok()) << xb01.status();
  v1::Product mixture = Methanol(kAcme, "XM01");
  mixture.clear_cas();
  mixture.set_catalogue_number(0);  // not in the 目录
  mixture.clear_control_flags();
  mixture.add_control_flags("易制爆");
  Ok(acme_admin_, Product(mixture));
  ASSERT_TRUE(FindProductNow(kAcme, "XB01").has_value());
  EXPECT_TRUE(FindProductNow(kAcme, "XB01")->flags_provisional());
  absl::StatusOr<std::vector<v1::PendingProduct>> pending =
      ListPendingProducts(*ledger_->snapshot(), "");
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].product().product_number(), "XB01");
  EXPECT_EQ((*pending)[0].registered_at(), xb01->index);
  EXPECT_EQ((*pending)[0].catalogue_version(), "t1");
  EXPECT_EQ((*pending)[1].product().product_number(), "XM01");

  // Who decides: a regulator of 应急管理 overseeing the enterprise, with a
  // reason, for a registered product, with known flags.
  Refused(acme_admin_, decision("XB01", {"易制毒"}, "confirmed"),
          absl::StatusCode::kPermissionDenied,
          "regulators of 应急管理 (EMERGENCY_MANAGEMENT) with");
  Refused(admin_, decision("XB01", {"易制毒"}, "confirmed"), absl::StatusCode::kPermissionDenied,
          "may not decide product flags");
  const crypto::SigningKey police = TestKey(6), fujian = TestKey(7), guangdong = TestKey(8);
  v1::RegistryRequest add_police = AddActor("police", v1::REGULATOR, "", police);
  add_police.mutable_add_actor()->set_department(v1::PUBLIC_SECURITY);
  Ok(admin_, add_police);
  Refused(police, decision("XB01", {"易制毒"}, "confirmed"), absl::StatusCode::kPermissionDenied,
          "regulators of 应急管理");
  v1::RegistryRequest add_fujian = AddActor("fujian", v1::REGULATOR, "", fujian);
  add_fujian.mutable_add_actor()->mutable_jurisdiction()->Clear();
  add_fujian.mutable_add_actor()->mutable_jurisdiction()->set_region_prefix("35");
  Ok(admin_, add_fujian);
  v1::RegistryRequest add_guangdong = AddActor("guangdong", v1::REGULATOR, "", guangdong);
  add_guangdong.mutable_add_actor()->mutable_jurisdiction()->Clear();
  add_guangdong.mutable_add_actor()->mutable_jurisdiction()->set_region_prefix("44");
  Ok(admin_, add_guangdong);
  Refused(guangdong, decision("XB01", {"易制毒"}, "confirmed"), absl::StatusCode::kPermissionDenied,
          "decide_product_flags.enterprise_uscc: 91350100M000100Y43 is outside the jurisdiction");
  Refused(fujian, decision("XB01", {"易制毒"}, ""), absl::StatusCode::kInvalidArgument,
          "decide_product_flags.reason: is required");
  Refused(fujian, decision("XB01", {"剧毒X"}, "typo"), absl::StatusCode::kInvalidArgument,
          "decide_product_flags.control_flags:");
  Refused(fujian, decision("NOPE", {}, "none"), absl::StatusCode::kNotFound,
          "decide_product_flags.product_number: 91350100M000100Y43/NOPE is not registered");
  // Not below the catalogue in force: methanol keeps 重点监管.
  Ok(acme_admin_, Product(Methanol(kAcme, "XC01")));
  Refused(fujian, decision("XC01", {}, "no flags"), absl::StatusCode::kInvalidArgument,
          "decide_product_flags.control_flags: must include 重点监管, which catalogue t1 gives "
          "CAS 67-56-1 (entry 1022)");

  // A product that is not provisional only gains flags.
  Refused(fujian, decision("XC01", {"重点监管"}, "lower"), absl::StatusCode::kInvalidArgument,
          "must include 重点监管,高危: the product's flags are not provisional");
  Refused(fujian, decision("XC01", {"重点监管", "高危"}, "same"),
          absl::StatusCode::kFailedPrecondition, "carries these flags already");
  // A park's regulator does not decide a product of the whole country.
  {
    v1::RegistryRequest park = Request();
    *park.mutable_register_park() = testing::ExamplePark("FZ-TEST");
    Ok(admin_, park);
  }
  const crypto::SigningKey park_regulator = TestKey(9);
  v1::RegistryRequest add_park_regulator = AddActor("park", v1::REGULATOR, "", park_regulator);
  add_park_regulator.mutable_add_actor()->mutable_jurisdiction()->Clear();
  add_park_regulator.mutable_add_actor()->mutable_jurisdiction()->set_park_id("FZ-TEST");
  Ok(admin_, add_park_regulator);
  Refused(park_regulator, decision("XB01", {"易制毒"}, "park"), absl::StatusCode::kPermissionDenied,
          "with a national or regional jurisdiction only");

  absl::StatusOr<journal::Receipt> decided =
      ledger_->Registry(fujian, decision("XB01", {"易制毒"}, "a test decision"));
  ASSERT_TRUE(decided.ok()) << decided.status();
  // The decision's entry (its reason) is read as ListProductFlagChanges
  // reads it: by the enterprise and those who oversee it, not by anyone
  // walking the log's registry entries.
  {
    const RegistryReads reads;
    v1::GetRegistryEntryRequest entry;
    entry.set_log_index(decided->index);
    const std::shared_ptr<const storage::Snapshot> now = ledger_->snapshot();
    for (const crypto::SigningKey* key : {&other_admin_, &guangdong}) {
      absl::StatusOr<v1::Actor> reader = ActiveSigner(*now, key->key_id());
      ASSERT_TRUE(reader.ok()) << reader.status();
      absl::StatusOr<v1::RegistryEntry> read = reads.GetRegistryEntry(*now, *reader, entry);
      EXPECT_EQ(read.status().code(), absl::StatusCode::kPermissionDenied) << read.status();
      EXPECT_TRUE(absl::StrContains(read.status().message(), "decision on a product's flags"))
          << read.status();
    }
    for (const crypto::SigningKey* key : {&acme_admin_, &fujian, &admin_}) {
      absl::StatusOr<v1::Actor> reader = ActiveSigner(*now, key->key_id());
      ASSERT_TRUE(reader.ok()) << reader.status();
      EXPECT_TRUE(reads.GetRegistryEntry(*now, *reader, entry).ok());
    }
  }
  std::optional<v1::Product> xb = FindProductNow(kAcme, "XB01");
  ASSERT_TRUE(xb.has_value());
  EXPECT_FALSE(xb->flags_provisional());
  ASSERT_EQ(xb->control_flags_size(), 1);
  EXPECT_EQ(xb->control_flags(0), "易制毒");
  pending = ListPendingProducts(*ledger_->snapshot(), kAcme);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].product().product_number(), "XM01");

  // Version t2 lists 7732-18-5 with 重点监管 (this test's table, not the 目录):
  // XA01 and XB01 get it added (XB01 keeps its 易制毒), XM01 has no CAS and
  // stays pending, and methanol's row without flags takes none from XC01.
  absl::StatusOr<journal::Receipt> t2 = ledger_->Registry(
      admin_, import_request("t2", CatalogueCsvOf({"2800,测试水,Test water,7732-18-5,,,,重点监管",
                                                   "1022,甲醇,Methanol,67-56-1,,,,"})));
  ASSERT_TRUE(t2.ok()) << t2.status();
  std::optional<v1::Product> xa = FindProductNow(kAcme, "XA01");
  ASSERT_TRUE(xa.has_value());
  ASSERT_EQ(xa->control_flags_size(), 1);
  EXPECT_EQ(xa->control_flags(0), "重点监管");
  xb = FindProductNow(kAcme, "XB01");
  ASSERT_TRUE(xb.has_value());
  EXPECT_EQ(absl::StrJoin(xb->control_flags(), ","), "易制毒,重点监管");
  EXPECT_EQ(absl::StrJoin(FindProductNow(kAcme, "XC01")->control_flags(), ","), "重点监管,高危");

  absl::StatusOr<std::vector<v1::ProductFlagChange>> flag_changes =
      ListProductFlagChanges(*ledger_->snapshot(), kAcme);
  ASSERT_TRUE(flag_changes.ok()) << flag_changes.status();
  ASSERT_EQ(flag_changes->size(), 3u);
  // By enterprise, product, then log index: XA01 (t2), XB01 (decision, t2).
  EXPECT_EQ((*flag_changes)[0].product_number(), "XA01");
  EXPECT_EQ((*flag_changes)[0].catalogue_version(), "t2");
  EXPECT_EQ((*flag_changes)[0].log_index(), t2->index);
  EXPECT_TRUE((*flag_changes)[0].flags_before().empty());
  EXPECT_FALSE((*flag_changes)[0].was_provisional());
  EXPECT_EQ((*flag_changes)[1].product_number(), "XB01");
  EXPECT_EQ((*flag_changes)[1].decided_by(), fujian.key_id().ToString());
  EXPECT_TRUE((*flag_changes)[1].was_provisional());
  EXPECT_EQ((*flag_changes)[1].log_index(), decided->index);
  EXPECT_EQ((*flag_changes)[2].catalogue_version(), "t2");
  EXPECT_EQ(absl::StrJoin((*flag_changes)[2].flags_after(), ","), "易制毒,重点监管");

  // A pending product whose CAS a new version lists is no longer pending.
  v1::Product later = Methanol(kAcme, "XD01");
  later.set_cas("7664-93-9");
  later.set_catalogue_number(1302);
  later.clear_control_flags();
  Ok(acme_admin_, Product(later));
  EXPECT_TRUE(FindProductNow(kAcme, "XD01")->flags_provisional());
  Ok(admin_, import_request("t3", CatalogueCsvOf({"1302,硫酸,Sulphuric acid,7664-93-9,,,,"})));
  EXPECT_FALSE(FindProductNow(kAcme, "XD01")->flags_provisional());
  EXPECT_TRUE(FindProductNow(kAcme, "XD01")->control_flags().empty());
  pending = ListPendingProducts(*ledger_->snapshot(), "");
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].product().product_number(), "XM01");

  ExpectCheckPasses();
  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  ExpectCheckPasses();
}

// GB 18218's thresholds are a table of their own: versioned apart from the
// catalogue, refused whole when a row is wrong, read by CAS number or by
// category code (a test's own values, not the standard's).
TEST_F(RegistryRulesTest, ThresholdTablesAreVersionedApartFromTheCatalogue) {
  const auto import_request = [&](v1::ReferenceTable table, const std::string& version,
                                  const std::string& csv) {
    v1::RegistryRequest r = Request();
    *r.mutable_import_reference_table() = CatalogueImport(version, csv);
    r.mutable_import_reference_table()->set_table(table);
    return r;
  };
  const std::string header = "kind,key,name_zh,threshold_t,beta\n";
  Refused(admin_,
          import_request(v1::MAJOR_HAZARD_THRESHOLDS, "g1",
                         header + "cas,67-56-1,甲醇,500,\ncategory,J1,测试类别,-5,\n"),
          absl::StatusCode::kInvalidArgument,
          "import_reference_table.content: 1 problem, the table is refused whole: line 3, field "
          "threshold_t: '-5'");
  Ok(admin_, import_request(v1::MAJOR_HAZARD_THRESHOLDS, "g1",
                            header + "cas,67-56-1,甲醇,500,\ncategory,J1,测试类别,5,2\n"));
  // The same version name for the catalogue is another table's.
  Ok(admin_,
     import_request(v1::CATALOGUE, "g1", CatalogueCsvOf({"1022,甲醇,Methanol,67-56-1,,,,"})));
  Refused(admin_,
          import_request(v1::MAJOR_HAZARD_THRESHOLDS, "g1", header + "cas,67-56-1,甲醇,50,\n"),
          absl::StatusCode::kAlreadyExists, "thresholds g1 was imported before");

  absl::StatusOr<std::optional<v1::ThresholdRow>> methanol =
      FindThresholdRow(*ledger_->snapshot(), "g1", false, "67-56-1");
  ASSERT_TRUE(methanol.ok()) << methanol.status();
  ASSERT_TRUE(methanol->has_value());
  EXPECT_EQ((*methanol)->threshold_kg(), 500000u);
  EXPECT_EQ((*methanol)->beta_hundredths(), 100u);
  absl::StatusOr<std::optional<v1::ThresholdRow>> j1 =
      FindThresholdRow(*ledger_->snapshot(), "g1", true, "J1");
  ASSERT_TRUE(j1.ok() && j1->has_value());
  EXPECT_EQ((*j1)->threshold_kg(), 5000u);
  EXPECT_EQ((*j1)->beta_hundredths(), 200u);
  absl::StatusOr<std::optional<v1::ThresholdRow>> none =
      FindThresholdRow(*ledger_->snapshot(), "g1", true, "67-56-1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  absl::StatusOr<std::vector<v1::ReferenceTableVersion>> versions =
      ListReferenceTableVersions(*ledger_->snapshot(), v1::REFERENCE_TABLE_UNSPECIFIED);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].table(), v1::CATALOGUE);
  EXPECT_TRUE((*versions)[0].in_force());
  EXPECT_EQ((*versions)[1].table(), v1::MAJOR_HAZARD_THRESHOLDS);
  EXPECT_TRUE((*versions)[1].in_force());
  EXPECT_EQ((*versions)[1].rows(), 2u);
  absl::StatusOr<std::optional<v1::ReferenceTableVersion>> in_force =
      ReferenceTableInForce(*ledger_->snapshot(), v1::MAJOR_HAZARD_THRESHOLDS);
  ASSERT_TRUE(in_force.ok() && in_force->has_value());
  EXPECT_EQ((*in_force)->version(), "g1");
  ExpectCheckPasses();
  // A β over 100 by a fraction: refused from rules epoch 8; an import of
  // epoch 7 took it, and the log still rebuilds.
  Refused(
      admin_,
      import_request(v1::MAJOR_HAZARD_THRESHOLDS, "g2", header + "cas,67-56-1,甲醇,500,100.5\n"),
      absl::StatusCode::kInvalidArgument, "line 2, field beta: '100.5'");
  TestLedgerOptions epoch7;
  epoch7.rules_epoch = 7;
  ledger_->Reopen(epoch7);
  Ok(admin_,
     import_request(v1::MAJOR_HAZARD_THRESHOLDS, "g2", header + "cas,67-56-1,甲醇,500,100.5\n"));
  ledger_->Reopen(TestLedgerOptions());
  ExpectCheckPasses();
}

// The control lists set flags: a list's import adds its flag to the
// registered products it names (recorded, with the list), and from its
// entry on a product it names must carry the flag; a malformed list is
// refused whole naming its row (a test's own list, not the official one).
TEST_F(RegistryRulesTest, ControlListsSetTheirFlagsFromTheirEntryOn) {
  const auto list_import = [&](v1::ReferenceTable table, const std::string& version,
                               const std::string& csv) {
    v1::RegistryRequest r = Request();
    *r.mutable_import_reference_table() = CatalogueImport(version, csv);
    r.mutable_import_reference_table()->set_table(table);
    return r;
  };
  Ok(acme_admin_,
     Product(Methanol(kAcme, "ME01")));  // 重点监管,高危 from the compiled-in catalogue
  Refused(admin_,
          list_import(v1::EXPLOSIVES_PRECURSOR_LIST, "e1",
                      "cas,name_zh,note\n67-56-1,甲醇,\n67-56-2,错号,\n"),
          absl::StatusCode::kInvalidArgument,
          "import_reference_table.content: 1 problem, the table is refused whole: line 3, field "
          "cas");
  const uint64_t import_index = ledger_->snapshot()->size();
  Ok(admin_, list_import(v1::EXPLOSIVES_PRECURSOR_LIST, "e1",
                         "cas,name_zh,note\n67-56-1,甲醇,a test's own list\n"));
  // Registered before: gains the flag, and the change names the list.
  absl::StatusOr<std::optional<v1::Product>> me01 =
      FindProduct(*ledger_->snapshot(), kAcme, "ME01");
  ASSERT_TRUE(me01.ok() && me01->has_value());
  EXPECT_EQ(absl::StrJoin((*me01)->control_flags(), ","), "易制爆,重点监管,高危");
  absl::StatusOr<std::vector<v1::ProductFlagChange>> changes =
      ListProductFlagChanges(*ledger_->snapshot(), kAcme);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].log_index(), import_index);
  EXPECT_EQ((*changes)[0].table(), v1::EXPLOSIVES_PRECURSOR_LIST);
  EXPECT_EQ((*changes)[0].catalogue_version(), "e1");
  // Registered after: must carry it.
  Refused(acme_admin_, Product(Methanol(kAcme, "ME02")), absl::StatusCode::kInvalidArgument,
          "product.control_flags: must include 易制爆, which the control lists in force "
          "(explosives-precursors/e1) give CAS 67-56-1");
  v1::Product me03 = Methanol(kAcme, "ME03");
  me03.add_control_flags("易制爆");
  const uint64_t me03_index = ledger_->snapshot()->size();
  Ok(acme_admin_, Product(me03));
  const v1::RegistryAssignment assignment = LoggedAssignment(me03_index);
  ASSERT_EQ(assignment.control_lists_size(), 1);
  EXPECT_EQ(assignment.control_lists(0), "explosives-precursors/e1");
  // A second list sets its own flag; lists of other chemicals set nothing.
  Ok(admin_,
     list_import(v1::SPECIALLY_CONTROLLED_LIST, "s1", "cas,name_zh,note\n7664-93-9,硫酸,\n"));
  v1::Product me04 = Methanol(kAcme, "ME04");
  me04.add_control_flags("易制爆");
  Ok(acme_admin_, Product(me04));
  // A new version of the list that no longer names it: from its entry on,
  // the flag is not required (products keep the flags they have).
  Ok(admin_,
     list_import(v1::EXPLOSIVES_PRECURSOR_LIST, "e2", "cas,name_zh,note\n7664-93-9,硫酸,\n"));
  Ok(acme_admin_, Product(Methanol(kAcme, "ME05")));
  me01 = FindProduct(*ledger_->snapshot(), kAcme, "ME01");
  ASSERT_TRUE(me01.ok() && me01->has_value());
  EXPECT_EQ(absl::StrJoin((*me01)->control_flags(), ","), "易制爆,重点监管,高危");
  // Every table's versions are listed.
  absl::StatusOr<std::vector<v1::ReferenceTableVersion>> versions =
      ListReferenceTableVersions(*ledger_->snapshot(), v1::REFERENCE_TABLE_UNSPECIFIED);
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[0].version(), "e1");
  EXPECT_FALSE((*versions)[0].in_force());
  EXPECT_EQ((*versions)[1].version(), "e2");
  EXPECT_TRUE((*versions)[1].in_force());
  EXPECT_EQ((*versions)[2].table(), v1::SPECIALLY_CONTROLLED_LIST);

  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  ExpectCheckPasses();
}

// The tables the pages and site assessments read come from the versions in
// force: statement texts and emergency information over the compiled-in
// texts, a segregation table whole (by class where a division has no row);
// a malformed file is refused naming its row.
TEST_F(RegistryRulesTest, PageTablesAreReadFromTheVersionsInForce) {
  const auto import_request = [&](v1::ReferenceTable table, const std::string& version,
                                  const std::string& csv) {
    v1::RegistryRequest r = Request();
    *r.mutable_import_reference_table() = CatalogueImport(version, csv);
    r.mutable_import_reference_table()->set_table(table);
    return r;
  };
  const reference::ReferenceTables& shipped = reference::ShippedReferenceTables();
  {
    LoggedReferenceTables before(*ledger_->snapshot(), shipped);
    EXPECT_EQ(before.StatementText("H225", reference::Language::kEnglish),
              shipped.StatementText("H225", reference::Language::kEnglish));
    EXPECT_FALSE(before.HasSegregationTable());
  }
  // Under an earlier rules epoch these tables are not imported.
  TestLedgerOptions epoch6;
  epoch6.rules_epoch = 6;
  ledger_->Reopen(epoch6);
  Refused(admin_, import_request(v1::STATEMENT_TEXTS, "s0", "code,text_zh,text_en\nP210,测试,\n"),
          absl::StatusCode::kInvalidArgument,
          "import_reference_table.table: STATEMENT_TEXTS is imported from rules epoch 7");
  ledger_->Reopen(TestLedgerOptions());
  Refused(admin_,
          import_request(v1::STORAGE_SEGREGATION, "g1",
                         "class_a,class_b,same_site,requirement\n3,5.1,maybe,测试\n"),
          absl::StatusCode::kInvalidArgument,
          "import_reference_table.content: 1 problem, the table is refused whole: line 2, field "
          "same_site");
  Ok(admin_, import_request(v1::STATEMENT_TEXTS, "s1",
                            "code,text_zh,text_en\nP210,测试：远离热源（本测试）,\n"
                            "P301,测试甲,\nP310,测试乙,\nH225,,Test text for H225\n"));
  Ok(admin_, import_request(v1::STORAGE_SEGREGATION, "g1",
                            "class_a,class_b,same_site,requirement\n5.1,3,no,测试：不得同库\n"
                            "2,8,yes,测试：隔开\n"));
  Ok(admin_,
     import_request(v1::EMERGENCY_INFORMATION, "e1", "un,text_zh,text_en\n1230,测试应急信息,\n"));
  LoggedReferenceTables logged(*ledger_->snapshot(), shipped);
  using reference::Language;
  EXPECT_EQ(logged.StatementText("P210", Language::kChinese), "测试：远离热源（本测试）");
  EXPECT_EQ(logged.StatementText("P301+P310", Language::kChinese), "测试甲测试乙");
  // A combination whose parts the version lacks: the compiled-in text.
  EXPECT_EQ(logged.StatementText("P301+P330", Language::kChinese),
            shipped.StatementText("P301+P330", Language::kChinese));
  EXPECT_EQ(logged.StatementText("H225", Language::kEnglish), "Test text for H225");
  // No Chinese H225 in the version: the compiled-in text stands.
  EXPECT_EQ(logged.StatementText("H225", Language::kChinese),
            shipped.StatementText("H225", Language::kChinese));
  EXPECT_EQ(logged.EmergencyInformation("1230", Language::kChinese), "测试应急信息");
  EXPECT_FALSE(logged.EmergencyInformation("1230", Language::kEnglish));
  EXPECT_TRUE(logged.HasSegregationTable());
  std::optional<reference::SegregationRule> rule = logged.StorageSegregation("3", "5.1");
  ASSERT_TRUE(rule);
  EXPECT_FALSE(rule->same_site_allowed);
  EXPECT_EQ(rule->requirement, "测试：不得同库");
  rule = logged.StorageSegregation("8", "2.1");  // by the class of 2.1
  ASSERT_TRUE(rule);
  EXPECT_TRUE(rule->same_site_allowed);
  EXPECT_FALSE(logged.StorageSegregation("3", "8"));
  std::vector<reference::TableSource> sources = logged.Sources();
  ASSERT_GE(sources.size(), 3u);
  EXPECT_EQ(sources[0].table.rfind("statements s1", 0), 0u) << sources[0].table;
  ledger_->Reopen();
  ASSERT_FALSE(HasFatalFailure());
  ExpectCheckPasses();
}

}  // namespace
}  // namespace chemledger::registry
