// Test inputs written as xDS JSON (camelCase or snake_case), parsed as protobuf does.
#pragma once

#include <string>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace agent::translate::testing {

template <typename Message>
Message FromJson(const std::string& json) {
  Message m;
  auto status = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(status.ok()) << status.message() << "\n" << json;
  return m;
}

}  // namespace agent::translate::testing
