"""Mails as real clients write them (headers and structure copied from the
shapes Outlook, Gmail, QQ Mail and Foxmail produce), built as bytes."""

from __future__ import annotations

import base64

OUTLOOK_REPLY = (
    b"""\
From: =?utf-8?B?5byg5LiJ?= <Zhang.San@Contoso.COM>
To: "CloudPick" <support@cloudpick.test>
Subject: RE: =?utf-8?B?W+W3peWNlSAjNDJdIFJlOiDorqLljZXmsqHmnInliLA=?=
Date: Mon, 7 Dec 2026 09:12:00 +0800
Message-ID: <SEYPR01MB1234ABCD@SEYPR01MB1234.apcprd01.prod.exchangelabs.com>
In-Reply-To: <170000.1@cloudpick.test>
References: <160000.1@contoso.com> <170000.1@cloudpick.test>
Content-Type: multipart/alternative; boundary="_000_outlook_"
MIME-Version: 1.0

--_000_outlook_
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

"""
    + base64.encodebytes(
        "好的，我再等两天。\r\n\r\n张三\r\n\r\n"
        "________________________________\r\n"
        "发件人: 云选客服 <support@cloudpick.test>\r\n"
        "发送时间: 2026年12月6日 18:00\r\n"
        "收件人: 张三 <zhang.san@contoso.com>\r\n"
        "主题: [工单 #42] Re: 订单没有到\r\n\r\n"
        "您的订单已经发货。\r\n".encode()
    )
    + b"""
--_000_outlook_
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html><body><div>=E5=A5=BD=E7=9A=84</div><div id=3D"divRplyFwdMsg">=E5=8F=91=E4=BB=
=B6=E4=BA=BA</div></body></html>
--_000_outlook_--
"""
)

GMAIL_REPLY = b"""\
MIME-Version: 1.0
From: Alice Example <alice@gmail.com>
Date: Mon, 7 Dec 2026 10:00:00 +0000
Message-ID: <CAF=abc123@mail.gmail.com>
In-Reply-To: <170000.2@cloudpick.test>
References: <170000.2@cloudpick.test>
Subject: Re: Your enquiry
To: support@cloudpick.test
Content-Type: multipart/alternative; boundary="000000000000gmail"

--000000000000gmail
Content-Type: text/plain; charset="UTF-8"

2

On Sun, Dec 6, 2026 at 6:00 PM CloudPick Support <support@cloudpick.test>
wrote:

> Which one?
> 1. Order status
> 2. Returns
--000000000000gmail
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">2</div><br><div class="gmail_quote"><div class="gmail_attr">
On Sun, Dec 6, 2026 at 6:00 PM CloudPick Support wrote:<br></div>
<blockquote class="gmail_quote">Which one?</blockquote></div>
--000000000000gmail--
"""

QQ_MAIL_HTML_ONLY = b"""\
From: "=?gb18030?B?wO7LxA==?=" <10001@qq.com>
To: "support" <support@cloudpick.test>
Subject: =?gb18030?B?zcu79Q==?=
Mime-Version: 1.0
Content-Type: text/html; charset="gb18030"
Content-Transfer-Encoding: base64
Date: Mon, 7 Dec 2026 11:00:00 +0800
X-QQ-MIME: TCMime 1.0 by Tencent
Message-ID: <tencent_ABCDEF@qq.com>

""" + base64.encodebytes(
    (
        "<div>我要退货，订单号 241106117845</div><div><br></div>"
        '<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
        "------------------&nbsp;原始邮件&nbsp;------------------</div>"
        "<div>发件人: 云选客服</div><div>您好，请问有什么可以帮您？</div>"
    ).encode("gb18030")
)

GB2312_PLAIN = (
    b"From: =?GB2312?B?wO7PyMn6?= <li@163.com>\n"
    b"To: support@cloudpick.test\n"
    b"Subject: =?GB2312?B?t6LGsQ==?=\n"
    b"Message-ID: <gb2312.1@163.com>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: text/plain; charset="gb2312"\n'
    b"Content-Transfer-Encoding: 8bit\n\n"
    # "镕" is in GBK but not GB2312: mailers label GBK text as gb2312.
    + "朱镕基同志的发票怎么开？\n\n在 2026-12-06 18:00，云选客服 写道：\n> 您好\n".encode("gbk")
)

HTML_WITH_SCRIPT = b"""\
From: Mallory <mallory@example.net>
To: support@cloudpick.test
Subject: hello
Message-ID: <script.1@example.net>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><style>p{color:red}</style><script>alert('x')</script></head>
<body><p onclick="steal()">Where is my <b>order</b>?</p><img src=x onerror=alert(1)>
<script>document.location='http://evil'</script><!-- hidden --><p>Thanks</p></body></html>
"""

MALFORMED = (
    b"From: =?x-unknown?Q?=FF=FE?= <bob@example.org>\n"
    b"To: support@cloudpick.test\n"
    b"Subject: =?utf-8?B?invalid base64!!?=\n"
    b"Message-ID: <broken.1@example.org>\n"
    b'Content-Type: multipart/mixed; boundary="never-closed"\n\n'
    b"--never-closed\n"
    b'Content-Type: text/plain; charset="x-klingon"\n\n'
    b"Hello \xff\xfe there\n"
    b"--never-closed\n"
    b'Content-Type: application/pdf; name="inv\x00oice.pdf"\n'
    b"Content-Disposition: attachment; filename*=utf-8''..%2F..%2Fetc%2Fpasswd\n"
    b"Content-Transfer-Encoding: base64\n\n"
    b"JVBERi0xLjQK\n"
)

AUTO_REPLY = b"""\
From: Zhang San <zhang.san@contoso.com>
To: support@cloudpick.test
Subject: Automatic reply: Re: Your enquiry
Auto-Submitted: auto-replied
Message-ID: <auto.1@contoso.com>
Content-Type: text/plain

I am out of office until Monday.
"""

BOUNCE = b"""\
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
To: support@cloudpick.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce.1@mx.example.com>
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail could not be delivered.
--b--
"""


def with_attachments(*files: tuple[str, str, bytes], text: str = "see attached") -> bytes:
    """A mail with these (filename, content type, data) attachments."""
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Carol <carol@example.com>"
    message["To"] = "support@cloudpick.test"
    message["Subject"] = "files"
    message["Message-ID"] = "<files.1@example.com>"
    message.set_content(text)
    for filename, content_type, data in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()
