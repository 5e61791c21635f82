"""Alibaba Cloud's RPC signature, against the worked example of its SMS documentation."""

from __future__ import annotations

from datetime import UTC, datetime

from arrears.adapters.senders.aliyun_sms import signature, signed_params

DOC_EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def test_the_documented_example() -> None:
    assert signature(DOC_EXAMPLE, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_signed_params_sign_everything_but_the_signature() -> None:
    params = signed_params(
        {"PhoneNumbers": "13800000000", "SignName": "测试", "TemplateCode": "SMS_1"},
        "id",
        "secret",
        datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        "nonce-1",
    )
    assert params["Timestamp"] == "2026-11-28T02:00:00Z"
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    assert params["Signature"] == signature(unsigned, "secret")
    assert signature({**unsigned, "SignName": "测试2"}, "secret") != params["Signature"]
