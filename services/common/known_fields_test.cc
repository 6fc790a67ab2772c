#include "services/common/known_fields.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "proto/chemledger/v1/ledger.pb.h"
#include "proto/chemledger/v1/waybill.pb.h"

namespace chemledger {
namespace {

namespace v1 = ::chemledger::v1;
using google::protobuf::Message;

absl::Status Check(const Message& m, absl::string_view root = "event") {
  return CheckEveryFieldKnown(m.SerializeAsString(), *m.GetDescriptor(), root);
}

v1::Event AnEvent() {
  v1::Event e;
  e.set_event_id("e-1");
  e.set_step(v1::REPACKAGING);
  e.add_codes("91110000100000000A.P1.0001");
  e.add_codes("91110000100000000A.P1.0002");
  e.mutable_event_time()->set_seconds(1767225600);
  e.add_outputs()->set_code("91110000100000000A.P1.0003");
  e.add_outputs()->set_code("91110000100000000A.P1.0004");
  e.set_deployment("chemledger.example/test");
  return e;
}

void ExpectRefused(const absl::Status& s, absl::string_view path_and_rule) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), path_and_rule)) << s.message();
}

TEST(KnownFieldsTest, AMessageOfKnownFieldsPasses) {
  EXPECT_TRUE(Check(AnEvent()).ok()) << Check(AnEvent());
  EXPECT_TRUE(Check(v1::Event()).ok());  // no bytes at all
}

TEST(KnownFieldsTest, AnUnknownFieldIsRefusedWithItsPath) {
  v1::Event top = AnEvent();
  top.GetReflection()->MutableUnknownFields(&top)->AddVarint(40, 1);
  ExpectRefused(Check(top), "event: field number 40 (sent as a varint) is not a field of "
                            "chemledger.v1.Event in this server's schema");

  v1::Event nested = AnEvent();
  v1::RepackagingOutput* second = nested.mutable_outputs(1);
  second->GetReflection()->MutableUnknownFields(second)->AddLengthDelimited(9, "x");
  ExpectRefused(Check(nested), "event.outputs[1]: field number 9 (sent as length-delimited bytes)");

  v1::Event in_time = AnEvent();
  google::protobuf::Timestamp* time = in_time.mutable_event_time();
  time->GetReflection()->MutableUnknownFields(time)->AddFixed32(3, 7);
  ExpectRefused(Check(in_time), "event.event_time: field number 3 (sent as 32 fixed bits)");
}

TEST(KnownFieldsTest, AKnownFieldInAWireTypeItsParserDoesNotReadIsRefused) {
  // Field 1 (event_id, a string) sent as a varint: a parser keeps it aside
  // as an unknown field.
  std::string wire = AnEvent().SerializeAsString();
  wire += std::string("\x08\x05", 2);
  ExpectRefused(CheckEveryFieldKnown(wire, *v1::Event::descriptor(), "event"),
                "event.event_id: sent as a varint, which this server's parser does not read as "
                "this field (a string, sent as length-delimited bytes)");
  // Field 2 (step, an enum) sent as length-delimited bytes: not packable.
  ExpectRefused(CheckEveryFieldKnown(std::string("\x12\x01\x01", 3), *v1::Event::descriptor(),
                                     "event"),
                "event.step: sent as length-delimited bytes");
}

// A request gRPC parsed before the server saw it: what its parser kept
// aside (an unknown number, a known one in another wire type) is found.
TEST(KnownFieldsTest, AParsedMessageIsCheckedForWhatItsParserKeptAside) {
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(AnEvent().SerializeAsString()));
  EXPECT_TRUE(CheckEveryFieldKnown(parsed, "event").ok());
  ASSERT_TRUE(parsed.ParseFromString(AnEvent().SerializeAsString() + std::string("\x08\x05", 2)));
  ExpectRefused(CheckEveryFieldKnown(parsed, "event"), "event.event_id: sent as a varint");
  ASSERT_TRUE(parsed.ParseFromString(AnEvent().SerializeAsString()));
  v1::RepackagingOutput* output = parsed.mutable_outputs(0);
  output->GetReflection()->MutableUnknownFields(output)->AddFixed64(6, 1);
  ExpectRefused(CheckEveryFieldKnown(parsed, "event"),
                "event.outputs[0]: field number 6 (sent as 64 fixed bits)");
}

TEST(KnownFieldsTest, ARepeatedScalarMayComePackedOrNot) {
  google::protobuf::SourceCodeInfo::Location location;  // path: repeated int32 [packed = true]
  location.add_path(1);
  location.add_path(300);
  const std::string packed = location.SerializeAsString();
  EXPECT_TRUE(CheckEveryFieldKnown(packed, *location.GetDescriptor(), "location").ok());
  // The same values one tag each (field 1, varint), as an older writer sends.
  const std::string unpacked("\x08\x01\x08\xac\x02", 5);
  google::protobuf::SourceCodeInfo::Location parsed;
  ASSERT_TRUE(parsed.ParseFromString(unpacked));
  ASSERT_EQ(parsed.path_size(), 2);
  EXPECT_TRUE(CheckEveryFieldKnown(unpacked, *location.GetDescriptor(), "location").ok());
}

TEST(KnownFieldsTest, MapEntriesAreWalkedLikeAnyMessage) {
  google::protobuf::Struct s;
  (*s.mutable_fields())["a"].set_string_value("x");
  (*s.mutable_fields())["b"].mutable_struct_value()->mutable_fields()->insert(
      {"c", google::protobuf::Value()});
  EXPECT_TRUE(Check(s, "struct").ok()) << Check(s, "struct");
  google::protobuf::Value& inner = (*(*s.mutable_fields())["b"].mutable_struct_value()
                                         ->mutable_fields())["c"];
  inner.GetReflection()->MutableUnknownFields(&inner)->AddVarint(99, 1);
  const absl::Status refused = Check(s, "struct");
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "field number 99")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "google.protobuf.Value")) << refused;
}

// A field that holds one value sent twice: the parser keeps the last (a
// message's are merged), a reader that takes the first reads another
// request. Refused (kOnce), with its path; taken as parsed (kAsParsed).
TEST(KnownFieldsTest, AFieldThatHoldsOneValueSentTwiceIsRefused) {
  const v1::Event event = AnEvent();
  v1::Event other_id;
  other_id.set_event_id("e-2");
  const std::string id_twice = event.SerializeAsString() + other_id.SerializeAsString();
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(id_twice));
  ASSERT_EQ(parsed.event_id(), "e-2");  // what the parser takes
  ExpectRefused(CheckEveryFieldKnown(id_twice, *v1::Event::descriptor(), "event"),
                "event.event_id: sent twice; it holds one value (a string)");
  EXPECT_TRUE(
      CheckEveryFieldKnown(id_twice, *v1::Event::descriptor(), "event", SingularFields::kAsParsed)
          .ok());

  // A message field: merged by the parser.
  v1::Event later_time;
  later_time.mutable_event_time()->set_nanos(5);
  ExpectRefused(CheckEveryFieldKnown(event.SerializeAsString() + later_time.SerializeAsString(),
                                     *v1::Event::descriptor(), "event"),
                "event.event_time: sent twice; it holds one value (a message)");

  // Inside a repeated message, each element on its own: outputs[1].code twice.
  v1::Event nested = event;
  v1::RepackagingOutput* second = nested.mutable_outputs(1);
  second->GetReflection()->MutableUnknownFields(second)->AddLengthDelimited(
      v1::RepackagingOutput::kCodeFieldNumber, "91110000100000000A.P1.0009");
  ExpectRefused(Check(nested), "event.outputs[1].code: sent twice");

  // Repeated fields (codes, outputs) any number of times, as in AnEvent.
  EXPECT_TRUE(Check(event).ok());
}

TEST(KnownFieldsTest, TwoMembersOfAOneofAreRefused) {
  google::protobuf::Value number;
  number.set_number_value(1);
  google::protobuf::Value text;
  text.set_string_value("x");
  const std::string both = number.SerializeAsString() + text.SerializeAsString();
  google::protobuf::Value parsed;
  ASSERT_TRUE(parsed.ParseFromString(both));
  ASSERT_EQ(parsed.kind_case(), google::protobuf::Value::kStringValue);  // the last member
  ExpectRefused(CheckEveryFieldKnown(both, *parsed.GetDescriptor(), "value"),
                "value.string_value: sent with number_value, another member of oneof kind");
  EXPECT_TRUE(
      CheckEveryFieldKnown(both, *parsed.GetDescriptor(), "value", SingularFields::kAsParsed).ok());
  // The same member twice is a field sent twice.
  ExpectRefused(CheckEveryFieldKnown(text.SerializeAsString() + text.SerializeAsString(),
                                     *parsed.GetDescriptor(), "value"),
                "value.string_value: sent twice");
  // A signed write's oneof: WaybillRequest.change.
  v1::WaybillRequest submit;
  submit.set_request_id("r-1");
  submit.mutable_submit()->set_waybill_number("WB-1");
  v1::WaybillRequest cancel;
  cancel.mutable_cancel()->set_waybill_number("WB-1");
  ExpectRefused(CheckEveryFieldKnown(submit.SerializeAsString() + cancel.SerializeAsString(),
                                     *v1::WaybillRequest::descriptor(), "request"),
                "request.cancel: sent with submit, another member of oneof change");
  // One member each, in two messages of a map: no repeat.
  google::protobuf::Struct s;
  (*s.mutable_fields())["a"] = number;
  (*s.mutable_fields())["b"] = text;
  EXPECT_TRUE(Check(s, "struct").ok()) << Check(s, "struct");
}

TEST(KnownFieldsTest, MalformedBytesAreRefused) {
  const std::string wire = AnEvent().SerializeAsString();
  // Cut inside the last field.
  ExpectRefused(CheckEveryFieldKnown(wire.substr(0, wire.size() - 2), *v1::Event::descriptor(),
                                     "event"),
                "event");
  // Field number 0.
  ExpectRefused(CheckEveryFieldKnown(std::string("\x00\x01", 2), *v1::Event::descriptor(), "event"),
                "event: not a well-formed chemledger.v1.Event");
  // A nested message whose length runs past its parent's end.
  ExpectRefused(CheckEveryFieldKnown(std::string("\x42\x05\x0a\x01", 4), *v1::Event::descriptor(),
                                     "event"),
                "event.outputs[0]: not a well-formed chemledger.v1.RepackagingOutput");
}

TEST(KnownFieldsTest, NestingDeeperThanTheParserAllowsIsRefused) {
  google::protobuf::Value deep;
  google::protobuf::Value* at = &deep;
  for (int i = 0; i < 60; ++i) {  // two messages a level (Value, ListValue)
    at = at->mutable_list_value()->add_values();
  }
  at->set_number_value(1);
  const absl::Status s = Check(deep, "value");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "messages deep")) << s;

  google::protobuf::Value shallow;
  shallow.mutable_list_value()->add_values()->set_number_value(2);
  EXPECT_TRUE(Check(shallow, "value").ok());
}

}  // namespace
}  // namespace chemledger
